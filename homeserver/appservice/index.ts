// The appservice side of the embedded homeserver (AS API, homeserver side). The room core composes it
// through the AppserviceService contract; everything else in this folder is reached only from here.
import { Router } from 'express';
import type { AppserviceService, AppserviceServiceDeps, EphemeralEvent, Requester } from '../contracts.js';

/** Minimal first version: no appservices known yet. Grows into the registry, sender and queries. */
export function createAppserviceService(deps: AppserviceServiceDeps): AppserviceService {
  const clientRouter = Router();
  void deps;
  return {
    clientRouter,
    authenticate(_token: string, _userId: string | undefined, _deviceId: string | undefined): Requester | null {
      return null;
    },
    appserviceForUser: () => null,
    isExclusiveUser: () => false,
    isExclusiveAlias: () => false,
    queryUser: async () => false,
    queryAlias: async () => false,
    pushEphemeral(_event: EphemeralEvent): void {},
    hasNetwork: () => false,
    async start() {},
    async stop() {},
    async reload() {},
  };
}
