// `patchbay federation-key`: shows the homeserver's federation signing key (making it if there is
// none yet), or with --rotate retires it (published from then on as an old_verify_key, valid for what it
// signed before now) and makes a new one. The homeserver reads the key at start, so rotate while it is
// stopped; a running `patchbay start` on the same data_dir makes this refuse.
import { loadOrCreateSigningKeys, rotateSigningKey, SigningKeyFileError } from '../../homeserver/federation/keys/SigningKeyFile.js';
import { encodeUnpaddedBase64 } from '../../homeserver/federation/signing/UnpaddedBase64.js';
import { ExitCode, type Command } from '../Command.js';
import { DataDirInUseError, DataDirLock } from '../DataDirLock.js';

export const command: Command = {
  usage: '[--rotate]',
  description: [
    'Prints the federation signing key: its file (homeserver.federation.signing_key), id and public key.',
    'A missing key file is made (readable by its owner only), as the homeserver does at its first start.',
    '',
    'With --rotate, makes a new key; the old one stays published under old_verify_keys with expired_ts set',
    'to now, so events it signed still verify. Stop the homeserver first; it uses the new key when started.',
  ].join('\n'),
  options: {
    rotate: { type: 'boolean', description: 'retire the current key and make a new one' },
  },
  async run(ctx) {
    const config = ctx.config();
    const file = config.homeserver.federation.signing_key;
    let lock: DataDirLock;
    try {
      lock = DataDirLock.acquire(config.data_dir);
    } catch (err) {
      if (!(err instanceof DataDirInUseError)) throw err;
      ctx.err(`patchbay federation-key: ${err.message}`);
      return ExitCode.failure;
    }
    try {
      const before = loadOrCreateSigningKeys(file);
      const keys = ctx.flag('rotate') ? rotateSigningKey(file) : before;
      if (ctx.flag('rotate')) ctx.out(`Retired ${before.current.keyId} (kept as an old verify key, expired now).`);
      else if (before.created) ctx.out(`Made a new signing key in ${file}.`);
      ctx.out(`${file}: ${keys.current.keyId} ${encodeUnpaddedBase64(keys.current.key.publicKey)}`);
      for (const [id, old] of Object.entries(keys.old)) ctx.out(`  old: ${id} ${old.key} expired_ts ${old.expired_ts}`);
      return ExitCode.ok;
    } catch (err) {
      if (!(err instanceof SigningKeyFileError)) throw err;
      ctx.err(`patchbay federation-key: ${err.message}`);
      return ExitCode.failure;
    } finally {
      lock.release();
    }
  },
};
