// `patchbay dead-letters list | show ID | replay ID...|--all | drop ID...`: the events the bridges could not
// handle after host.handler_attempts tries, kept in Redis with the last error. Once the cause is fixed they
// are replayed (each room's in their order) or dropped. Works beside `patchbay start` (its own Redis, while
// it runs) or with redis.url.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createEventPipeline, type DeadLetter, type EventPipeline } from '../../core/host/index.js';
import { ExitCode, UsageError, type Command, type CommandContext } from '../Command.js';
import { HostRegistrationFile } from '../HostRegistrationFile.js';
import { PreflightError } from '../PreflightError.js';
import { redisConnectionFor } from '../redisConnection.js';

const ACTIONS = ['list', 'show', 'replay', 'drop'] as const;
type Action = (typeof ACTIONS)[number];

export const command: Command = {
  usage: 'list [--limit N] [--json] | show ID | replay ID...|--all | drop ID...',
  description: [
    'The dead-letter set: events the bridges could not handle after host.handler_attempts tries (or refused',
    'for good), with the last error. list shows them newest first, one line each; show prints one as JSON;',
    'replay queues them again once the cause is fixed (each room\'s in the order they had in the room, after',
    'what the room got since); drop forgets them. Reads the Redis of the deployment: redis.url, or the one',
    '`patchbay start` runs under data_dir (it must be running).',
  ].join('\n'),
  allowPositionals: true,
  options: {
    all: { type: 'boolean', description: 'replay every dead letter' },
    limit: { type: 'string', valueName: 'N', description: 'list at most N (default 100)' },
    json: { type: 'boolean', description: 'list as JSON (one array)' },
  },
  run,
};

async function run(ctx: CommandContext): Promise<number> {
  const [action, ...ids] = ctx.positionals;
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`say what to do: ${ACTIONS.join(', ')}${action === undefined ? '' : ` (not '${action}')`}.`);
  }
  const all = ctx.flag('all');
  if ((action === 'show' || action === 'drop' || (action === 'replay' && !all)) && ids.length === 0) {
    throw new UsageError(`${action} needs the event id of a dead letter${action === 'replay' ? ' (or --all)' : ''}; \`patchbay dead-letters list\` shows them.`);
  }
  if (action === 'replay' && all && ids.length > 0) throw new UsageError('give event ids or --all, not both.');
  const pipeline = await openPipeline(ctx);
  try {
    return await act(ctx, pipeline, action as Action, ids, all);
  } finally {
    await pipeline.stop();
  }
}

async function act(ctx: CommandContext, pipeline: EventPipeline, action: Action, ids: string[], all: boolean): Promise<number> {
  const letters = pipeline.deadLetters;
  switch (action) {
    case 'list': {
      const limit = Number(ctx.option('limit') ?? 100);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a positive whole number.');
      const [count, list] = await Promise.all([letters.count(), letters.list(limit)]);
      if (ctx.flag('json')) ctx.out(JSON.stringify(list, null, 2));
      else if (count === 0) ctx.out('No dead letters.');
      else {
        ctx.out(`${count} dead letter${count === 1 ? '' : 's'}${count > list.length ? `, the newest ${list.length}` : ''} (newest first):`);
        for (const letter of list) ctx.out(describeLetter(letter));
      }
      return ExitCode.ok;
    }
    case 'show': {
      let missing = 0;
      for (const id of ids) {
        const letter = await letters.get(id);
        if (letter === null) {
          ctx.err(`${id}: not a dead letter (dropped or replayed already?)`);
          missing++;
        } else ctx.out(JSON.stringify(letter, null, 2));
      }
      return missing === 0 ? ExitCode.ok : ExitCode.failure;
    }
    case 'replay': {
      const outcome = await pipeline.replayDeadLetters(all ? 'all' : ids);
      ctx.out(outcome.replayed.length === 0 ? 'Nothing replayed.' : `Replayed ${outcome.replayed.length}, in this order: ${outcome.replayed.join(', ')}`);
      for (const id of outcome.missing) ctx.err(`${id}: not a dead letter (dropped or replayed already?)`);
      return outcome.missing.length === 0 ? ExitCode.ok : ExitCode.failure;
    }
    case 'drop': {
      let missing = 0;
      for (const id of ids) {
        if (await letters.remove(id)) ctx.out(`Dropped ${id}`);
        else {
          ctx.err(`${id}: not a dead letter (dropped or replayed already?)`);
          missing++;
        }
      }
      return missing === 0 ? ExitCode.ok : ExitCode.failure;
    }
  }
}

/** `$id  2026-01-02 10:11:12  !room:hs  m.room.message from @alice:hs, 5 tries: the error` */
export function describeLetter(letter: DeadLetter): string {
  const when = new Date(letter.time).toISOString().replace('T', ' ').slice(0, 19);
  const tries = `${letter.attempts} ${letter.attempts === 1 ? 'try' : 'tries'}`;
  return `${letter.event.event_id}  ${when}  ${letter.event.room_id}  ${letter.event.type} from ${letter.event.sender}, ${tries}: ${letter.error}`;
}

/** The deployment's pipeline, reading and writing only (no HTTP, no workers). */
async function openPipeline(ctx: CommandContext): Promise<EventPipeline> {
  const config = ctx.config();
  let redis;
  if (config.redis.url !== null) redis = redisConnectionFor(config.redis.url);
  else {
    const socket = join(config.data_dir, 'redis', 'redis.sock');
    if (!existsSync(socket)) {
      throw new PreflightError([`redis.url: null, and patchbay start is not running (no ${socket}): its Redis holds the dead letters. Fix: start it, then run this again`]);
    }
    redis = { path: socket };
  }
  const registration = await HostRegistrationFile.read(config.host.registration);
  const pipeline = createEventPipeline({
    registration,
    redis,
    host: config.host,
    role: 'ingest',
    logger: pino({ level: 'warn' }, pino.destination(2)),
    metrics: new Registry(),
    http: null,
  });
  await pipeline.start();
  return pipeline;
}
