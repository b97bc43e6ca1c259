/**
 * `runnel/client`: the WebSocket client, for Node and browsers. See docs/protocol.md for the
 * protocol it speaks.
 */
export {
  PutBatchResult,
  ReceivedBatch,
  RunnelClient,
  RunnelSubscription,
  type ConnectOptions,
  type PutRecordsOutput,
  type PutRecordsResultEntry,
  type RecordInput,
  type ShardMapEntry,
  type StartingPositionType,
  type SubscribeOptions,
  type SubscribePosition,
  type SubscribedRecord,
  type WebSocketConstructor,
  type WebSocketLike,
  type Welcome,
} from './runnel-client.js';
export { encodeRecordBatch, encodeRecordBatches } from '../protocol/batch-writer.js';
export { KinesisError } from '../errors.js';
