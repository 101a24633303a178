// CORS on every response (browsers run Matrix clients from other origins), and OPTIONS answered before
// any auth or endpoint logic, as the spec asks.
import type { NextFunction, Request, Response } from 'express';

export function cors(req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, DELETE, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', 'X-Requested-With, Content-Type, Authorization, Date');
  res.setHeader('Access-Control-Expose-Headers', 'Content-Disposition, Content-Type, Content-Length');
  if (req.method === 'OPTIONS') {
    res.status(200).json({});
    return;
  }
  next();
}
