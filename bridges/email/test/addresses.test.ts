// Recipient lookups, which run at every RCPT: what an address reaches, and how many store reads that
// costs (each is a Redis round trip on the real stack, before the client may send its DATA).
import { describe, expect, it } from '@jest/globals';
import { PluginConfigValidator } from '../../../core/plugin/PluginConfigValidator.js';
import { createFakeContext } from '../../../testkit/index.js';
import { AddressBook } from '../AddressBook.js';
import { emailDescriptor } from '../EmailBridge.js';
import type { EmailConfig } from '../EmailConfig.js';

function book(): { addresses: AddressBook; reads: string[] } {
  const { config } = new PluginConfigValidator().validate('email', { domains: ['bridge.test'] }, emailDescriptor.configSchema);
  const fake = createFakeContext(emailDescriptor, config as unknown as EmailConfig);
  fake.hs.profiles.set('@alice:hs.test', { displayName: 'alice' });
  const reads: string[] = [];
  const get = fake.ctx.store.get.bind(fake.ctx.store);
  fake.ctx.store.get = (key: string) => {
    reads.push(key);
    return get(key);
  };
  return { addresses: new AddressBook(fake.ctx, emailDescriptor.ghostPrefix), reads };
}

describe('AddressBook.resolve', () => {
  it('an address without a tag is looked up with one store read', async () => {
    const { addresses, reads } = book();
    expect(await addresses.resolve('alice@bridge.test')).toEqual({ kind: 'user', userId: '@alice:hs.test', address: 'alice@bridge.test' });
    expect(reads).toEqual(['user-addr:alice@bridge.test']);
  });

  it('a tagged address falls back to what its base address reaches', async () => {
    const { addresses, reads } = book();
    await addresses.claim('sales@bridge.test', '@bob:hs.test');
    reads.length = 0;
    expect(await addresses.resolve('sales+eu@bridge.test')).toEqual({ kind: 'user', userId: '@bob:hs.test', address: 'sales+eu@bridge.test' });
    expect(reads).toEqual(['user-addr:sales+eu@bridge.test', 'user-addr:sales@bridge.test']);
    expect(await addresses.resolve('nobody+x@bridge.test')).toBeNull();
  });
});
