// A Router that remembers its paths, so that a known path called with the wrong method answers
// 405 M_UNRECOGNIZED (as the spec asks) instead of falling through to 404.
import { Router, type RequestHandler } from 'express';
import { methodNotAllowed } from './ErrorResponses.js';

export class RouteTable {
  readonly router: Router = Router();
  private readonly paths: string[] = [];

  get(path: string, ...h: RequestHandler[]): void {
    this.remember(path);
    this.router.get(path, ...h);
  }
  post(path: string, ...h: RequestHandler[]): void {
    this.remember(path);
    this.router.post(path, ...h);
  }
  put(path: string, ...h: RequestHandler[]): void {
    this.remember(path);
    this.router.put(path, ...h);
  }
  delete(path: string, ...h: RequestHandler[]): void {
    this.remember(path);
    this.router.delete(path, ...h);
  }

  /** Adds the 405 answers; call after every route is registered. */
  finish(): Router {
    for (const p of this.paths) this.router.all(p, methodNotAllowed);
    return this.router;
  }

  private remember(path: string): void {
    if (!this.paths.includes(path)) this.paths.push(path);
  }
}
