// A host setting is declared once, in config/schema.ts: its TypeScript type is read off the schema and
// its default sits in config/defaults.yaml. These checks fail to compile, or fail, when the two drift.
import { describe, expect, it } from '@jest/globals';
import { hostSchema, hostSettings, shippedDefaults, type HostConfig } from '../../config/index.js';

type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const typed = <T extends true>(): T => true as T;

describe('host settings', () => {
  it('are typed from the schema', () => {
    // Compile-time: each line stops the build when the derived type is not the expected one.
    typed<Same<HostConfig['partitions'], number>>();
    typed<Same<HostConfig['server_name'], string | null>>();
    typed<Same<HostConfig['metrics'], boolean>>();
    typed<Same<keyof HostConfig, (typeof hostSchema.required)[number]>>();
    expect(hostSchema.required).toEqual(Object.keys(hostSchema.properties));
  });

  it('all have a shipped default, and take given values over it', () => {
    expect(Object.keys(shippedDefaults().host).sort()).toEqual([...hostSchema.required].sort());
    expect(hostSettings({ partitions: 4 })).toMatchObject({ partitions: 4, handler_attempts: 5, outbox_partitions: 16 });
  });
});
