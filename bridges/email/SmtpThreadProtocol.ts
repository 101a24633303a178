// The messages between the SMTP listener's worker thread (SmtpWorker) and the bridge on the main thread
// (SmtpThread). The worker owns the sockets and the spool writes; what needs the bridge's state (who an
// address reaches, a sender domain's DNS) it asks for, and it tells the bridge each mail it acknowledged.
import type { ConnectionReport } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';
import type { SenderVerdict } from './SenderChecks.js';

export type RejectReason = 'relay' | 'unknown_recipient' | 'size' | 'rate' | 'sender_check' | 'blocked' | 'unavailable';

/** What the bridge says about one RCPT TO. */
export type RecipientAnswer = { accept: true } | { accept: false; reason: RejectReason; code: number; message: string };

export interface SenderClient {
  ip: string;
  helo: string;
  mailFrom: string | null;
}

export interface SmtpWorkerData {
  settings: EmailConfig['smtp'];
  hostname: string;
  spoolDir: string;
  /** Some sender domain's policy is `reject`: the verdict is made before the 250. */
  checksAtSmtpTime: boolean;
}

export type WorkerRequest =
  | { op: 'prepare' }
  | { op: 'recipient'; rcpt: string; mailFrom: string | null }
  | { op: 'senderCheck'; path: string; client: SenderClient };

export interface WorkerReplies {
  prepare: null;
  recipient: RecipientAnswer;
  senderCheck: SenderVerdict | null;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type FromWorker =
  | { type: 'request'; id: number; request: WorkerRequest }
  | { type: 'accepted'; id: string }
  | { type: 'rejected'; reason: RejectReason }
  | { type: 'status'; report: ConnectionReport }
  | { type: 'port'; port: number }
  | { type: 'started' }
  | { type: 'log'; level: LogLevel; fields: Record<string, unknown>; message: string };

export type ToWorker = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; message: string } | { type: 'stop' };

/** An Error as plain fields (what crosses postMessage reliably on every Node version). */
export function plainError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  return { type: err.name, message: err.message, stack: err.stack, ...('code' in err && { code: (err as NodeJS.ErrnoException).code }) };
}
