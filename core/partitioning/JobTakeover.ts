import type { Queue } from 'bullmq';

/**
 * BullMQ's lock and stalled-check timings for a takeover bound (host.job_takeover_ms, J). A job whose
 * worker died goes back to its queue at the first stalled check after its lock expired, once an earlier
 * check has seen it without its worker's renewals; checks run every `stalledInterval` by the workers of
 * that queue. Dead at T, its lock expires by T + J/2; the partition has a live owner by T + J/4 (worker
 * heartbeats of J/16, three missed); that owner's checks (the dead one's last may hold off the first)
 * see it and move it by T + 3/4 J, and an idle worker looks again within a second (BullMQ's drainDelay).
 * Hence J of at least 5 s. A live worker renews its locks every lock/2 = J/4.
 */
export interface JobTakeoverTiming {
  lockDuration: number;
  stalledInterval: number;
}

export function jobTakeoverTiming(jobTakeoverMs: number): JobTakeoverTiming {
  return { lockDuration: Math.round(jobTakeoverMs / 2), stalledInterval: Math.round(jobTakeoverMs / 4) };
}

/**
 * Puts every active job of these queues back at the head of its queue (moveToWait with BullMQ's "no
 * lock" token), for a start that knows their workers are dead: they go on at once instead of after the
 * takeover bound. Returns how many moved.
 */
export async function requeueActiveJobs(queues: readonly Queue[]): Promise<number> {
  let moved = 0;
  for (const queue of queues) {
    for (const job of await queue.getActive()) {
      await job.moveToWait('0');
      moved++;
    }
  }
  return moved;
}
