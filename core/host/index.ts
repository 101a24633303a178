// The appservice host's event pipeline: what bin/ composes into `patchbay start`, `host` and `worker`.
export {
  EventPipeline,
  createEventPipeline,
  type EventPipelineOptions,
  type EventPipelineHttpOptions,
  type EventPipelineTuning,
} from './EventPipeline.js';
export type { HealthReport, PipelineRole } from './PipelineHealth.js';
export type { RedisConnectionOptions } from './RedisConnections.js';
export { DeadLetters, type DeadLetter } from '../queue/DeadLetters.js';
export type { ReplayOutcome } from '../queue/DeadLetterReplay.js';
export { PartitionCountChangedError } from '../partitioning/PartitionCount.js';
export { PipelineKeys } from '../queue/PipelineKeys.js';
export { RoomPartitioner } from '../partitioning/RoomPartitioner.js';
export { createAppserviceRouter } from '../appservice/AppserviceApi.js';
export { RecentErrors, type RecentError } from '../status/RecentErrors.js';
