// The main thread's side of the SMTP worker (SmtpWorker): starts it, answers its requests (who a RCPT
// reaches, sender checks at SMTP time, preparing the spool), and hands each mail it acknowledged to the
// delivery. A worker that dies is started again after a second; the mails it acknowledged are in the spool.
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { BridgeStatus, Logger } from 'patchbay-matrix/plugin';
import type { EmailConfig } from './EmailConfig.js';
import type { RecipientCheck } from './RecipientCheck.js';
import type { SenderChecks } from './SenderChecks.js';
import type { FromWorker, RejectReason, SmtpWorkerData, ToWorker, WorkerReplies, WorkerRequest } from './SmtpThreadProtocol.js';

export interface SmtpThreadDeps {
  settings: EmailConfig['smtp'];
  hostname: string;
  spoolDir: string;
  recipients: RecipientCheck;
  checks: SenderChecks;
  /** Runs once, when the port is first held, before any client is served. */
  prepare(): Promise<void>;
  accepted(id: string): void;
  rejected(reason: RejectReason): void;
  status: BridgeStatus;
  logger: Logger;
}

const RESTART_MS = 1_000;

export class SmtpThread {
  private worker: Worker | null = null;
  private boundPort = 0;
  private stopped = false;
  private prepared: Promise<void> | null = null;
  private restart: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SmtpThreadDeps) {}

  /** The port the worker listens on (the configured one, or the one the OS chose for port 0). */
  get port(): number {
    return this.boundPort;
  }

  /** Resolves once the worker listens and the spool is ready, or reported why not (the port is in use). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const data: SmtpWorkerData = { settings: this.deps.settings, hostname: this.deps.hostname, spoolDir: this.deps.spoolDir, checksAtSmtpTime: this.deps.checks.decidesAtSmtpTime };
      const worker = new Worker(new URL('./SmtpWorker.js', import.meta.url), { workerData: data, name: 'patchbay-smtp' });
      this.worker = worker;
      let started = false;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'started') {
          started = true;
          resolve();
        } else this.onMessage(worker, message);
      });
      worker.on('error', (err) => {
        if (!started) reject(err);
        else this.deps.logger.error({ err }, 'the SMTP worker thread failed');
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = null;
        if (!started) reject(new Error(`the SMTP worker thread exited with code ${code} before it listened`));
        if (this.stopped || !started) return;
        this.deps.status.report('smtp', { state: 'backoff', reason: `the SMTP worker thread exited (code ${code}); starting it again` });
        this.restart = setTimeout(() => void this.start().catch((err: unknown) => this.deps.logger.error({ err }, 'could not start the SMTP worker thread again')), RESTART_MS);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restart) clearTimeout(this.restart);
    const worker = this.worker;
    if (worker !== null) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
      await exited;
    }
    this.deps.status.report('smtp', { state: 'stopped', reason: 'the bridge stopped' });
  }

  private onMessage(worker: Worker, message: Exclude<FromWorker, { type: 'started' }>): void {
    switch (message.type) {
      case 'request':
        this.answer(message.request).then(
          (value) => worker.postMessage({ type: 'reply', id: message.id, ok: true, value } satisfies ToWorker),
          (err: unknown) => worker.postMessage({ type: 'reply', id: message.id, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies ToWorker),
        );
        return;
      case 'accepted':
        this.deps.accepted(message.id);
        return;
      case 'rejected':
        this.deps.rejected(message.reason);
        return;
      case 'status':
        if (!this.stopped) this.deps.status.report('smtp', message.report);
        return;
      case 'port':
        this.boundPort = message.port;
        return;
      case 'log': {
        const { err, ...fields } = message.fields;
        const error = err !== undefined && typeof err === 'object' ? Object.assign(new Error(String((err as { message?: unknown }).message)), err) : err;
        this.deps.logger[message.level]({ ...fields, ...(error !== undefined && { err: error }), thread: 'smtp' }, message.message);
        return;
      }
    }
  }

  private async answer<R extends WorkerRequest>(request: R): Promise<WorkerReplies[keyof WorkerReplies]> {
    switch (request.op) {
      case 'prepare':
        this.prepared ??= this.deps.prepare();
        await this.prepared;
        return null;
      case 'recipient':
        return this.deps.recipients.check(request.rcpt, request.mailFrom);
      case 'senderCheck':
        return this.deps.checks.check(createReadStream(request.path), request.client).catch((err: unknown) => {
          this.deps.logger.warn({ err }, 'sender checks failed to run; deciding after delivery');
          return null;
        });
      default:
        throw new Error('unknown request from the SMTP worker');
    }
  }
}
