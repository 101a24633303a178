// The SMTP worker thread's entry: the SMTP listener and the spool writes, away from the main thread where
// the homeserver, the host and the bridge's delivery run, so accepting and fsyncing a mail never waits
// behind delivery work. What needs the bridge (recipients, sender checks at SMTP time, preparing the
// spool) is a request to the main thread; each acknowledged mail is reported to it.
import { parentPort, workerData } from 'node:worker_threads';
import { MailSpool } from './MailSpool.js';
import { SmtpListener } from './SmtpListener.js';
import { plainError, type FromWorker, type LogLevel, type SmtpWorkerData, type ToWorker, type WorkerReplies, type WorkerRequest } from './SmtpThreadProtocol.js';

const port = parentPort!;
const data = workerData as SmtpWorkerData;
const post = (message: FromWorker): void => port.postMessage(message);

const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
let nextId = 0;
function ask<R extends WorkerRequest>(request: R): Promise<WorkerReplies[R['op']]> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
    post({ type: 'request', id, request });
  });
}

const log =
  (level: LogLevel) =>
  (fields: Record<string, unknown>, message: string): void => {
    const plain = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? plainError(v) : v]));
    post({ type: 'log', level, fields: plain, message });
  };

const listener = new SmtpListener({
  settings: data.settings,
  hostname: data.hostname,
  spool: new MailSpool(data.spoolDir),
  recipient: (rcpt, mailFrom) => ask({ op: 'recipient', rcpt, mailFrom }),
  senderCheck: data.checksAtSmtpTime ? (path, client) => ask({ op: 'senderCheck', path, client }) : null,
  prepare: () => ask({ op: 'prepare' }).then(() => undefined),
  bound: (p) => post({ type: 'port', port: p }),
  accepted: (id) => post({ type: 'accepted', id }),
  rejected: (reason) => post({ type: 'rejected', reason }),
  status: { report: (_connection, report) => post({ type: 'status', report }) },
  logger: { info: log('info'), warn: log('warn'), error: log('error') },
});

port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    void listener.stop().then(() => port.close());
    return;
  }
  const w = waiting.get(message.id);
  if (w === undefined) return;
  waiting.delete(message.id);
  if (message.ok) w.resolve(message.value);
  else w.reject(new Error(message.message));
});

void listener.start().then(() => post({ type: 'started' }));
