/** Runnel's library surface. */
export { Engine } from './engine/engine.js';
export type { EngineOptions, PutRecordBatchResult } from './engine/engine.js';
export type { RecordInput } from './engine/batch-encoder.js';
export { KinesisError, ERROR_CATALOG, type ErrorCode } from './errors.js';
export * from './kinesis/shapes.js';
export { hashPartitionKey } from './kinesis/hash-key.js';
