// Typed access to a request's JSON body, query and path parameters, turning wrong shapes into spec
// errors: M_BAD_JSON / M_MISSING_PARAM for the body, M_INVALID_PARAM for query and path.
import type { Request, Response } from 'express';
import type { Requester } from '../contracts.js';
import { isValidRoomId } from '../ids/MatrixIds.js';
import { MatrixError } from '../MatrixError.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Body {
  readonly raw: JsonObject;

  constructor(raw: unknown) {
    if (raw === undefined) this.raw = {};
    else if (!isJsonObject(raw)) throw new MatrixError(400, 'M_BAD_JSON', 'Content must be a JSON object');
    else this.raw = raw;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  string(key: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing "${key}"`);
    if (typeof v !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be a string`);
    return v;
  }

  optString(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be a string`);
    return v;
  }

  optBool(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be a boolean`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.optBool(key);
    if (v === undefined) throw new MatrixError(400, 'M_MISSING_PARAM', `Missing "${key}"`);
    return v;
  }

  optInt(key: string): number | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be an integer`);
    return v;
  }

  optObject(key: string): JsonObject | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (!isJsonObject(v)) throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be an object`);
    return v;
  }

  optStringList(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      throw new MatrixError(400, 'M_BAD_JSON', `"${key}" must be a list of strings`);
    }
    return v as string[];
  }
}

/** The body of an endpoint that reads keys from it; no body at all reads as `{}`. */
export function body(req: Request): Body {
  return new Body(req.body);
}

/**
 * The body of an endpoint whose body is the data itself (event content, account data, a tag): the spec
 * requires a JSON object there, so an empty body is 400 M_NOT_JSON rather than an empty object.
 */
export function content(req: Request): JsonObject {
  if (req.body === undefined) throw new MatrixError(400, 'M_NOT_JSON', 'The request body must be a JSON object');
  return new Body(req.body).raw;
}

/** A single-valued query parameter; repeated parameters are an error. */
export function query(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new MatrixError(400, 'M_INVALID_PARAM', `Query parameter "${name}" must be given once`);
  return v;
}

export function queryInt(req: Request, name: string, min = 0): number | undefined {
  const v = query(req, name);
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,15}$/.test(v) || Number(v) < min) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `Query parameter "${name}" must be an integer${min === 0 ? ' >= 0' : ''}`);
  }
  return Number(v);
}

export function queryBool(req: Request, name: string): boolean | undefined {
  const v = query(req, name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new MatrixError(400, 'M_INVALID_PARAM', `Query parameter "${name}" must be true or false`);
}

export function param(req: Request, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

/** The `:roomId` path parameter, checked to be a room ID. */
export function roomIdParam(req: Request): string {
  const roomId = param(req, 'roomId');
  if (!isValidRoomId(roomId)) throw new MatrixError(400, 'M_INVALID_PARAM', `Invalid room ID ${JSON.stringify(roomId)}`);
  return roomId;
}

export function requesterOf(res: Response): Requester {
  const r = res.locals['requester'] as Requester | undefined;
  if (!r) throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
  return r;
}

export function optionalRequester(res: Response): Requester | null {
  return (res.locals['requester'] as Requester | undefined) ?? null;
}
