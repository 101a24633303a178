// The routes an express app answers, read from its router: method and path pattern under each mount
// path. For tools and tests that must cover every route (the hostile-input fuzz), so a new route is
// covered the day it is added.
import type { Express } from 'express';
import { methodNotAllowed } from './ErrorResponses.js';

export interface RouteInfo {
  method: string;
  /** The path pattern as registered, mount paths included, e.g. `/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId`. */
  path: string;
}

interface LayerLike {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> };
  handle?: { stack?: unknown };
}

function pathsOf(raw: unknown): string[] {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw)) return raw.filter((p): p is string => typeof p === 'string');
  return [''];
}

function walk(stack: unknown, prefix: string, out: RouteInfo[]): void {
  if (!Array.isArray(stack)) return;
  for (const layer of stack as LayerLike[]) {
    if (layer.route) {
      // The 405 answers for known paths are not routes of their own.
      if (layer.route.stack.every((l) => l.handle === methodNotAllowed)) continue;
      for (const path of pathsOf(layer.route.path)) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: prefix + path });
        }
      }
    } else if (layer.handle && Array.isArray(layer.handle.stack)) {
      for (const mount of pathsOf(layer.rawPath)) walk(layer.handle.stack, prefix + (mount === '/' ? '' : mount), out);
    }
  }
}

export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  walk((app as unknown as { router: { stack: unknown } }).router.stack, '', out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
