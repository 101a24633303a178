// The Client-Server API's body reader: the raw bytes (size limit -> 413, gzip/deflate undone, as
// body-parser does), then the strict parse of StrictJson. An empty body leaves req.body undefined, so
// endpoints whose body is the data itself can refuse it (RequestReader.content) instead of seeing {}.
import express, { type RequestHandler } from 'express';
import { parseStrictJson } from './StrictJson.js';

export function jsonBody(maxBodyBytes: number): RequestHandler[] {
  const raw = express.raw({ limit: maxBodyBytes, type: () => true });
  const parse: RequestHandler = (req, _res, next) => {
    const bytes: unknown = req.body;
    req.body = Buffer.isBuffer(bytes) && bytes.length > 0 ? parseStrictJson(bytes) : undefined;
    next();
  };
  return [raw, parse];
}
