/**
 * Every limit Runnel enforces, named once. Kinesis limits carry Kinesis's own numbers and
 * names (reference: AWS Kinesis Data Streams API 2013-12-02 and its service quotas); Runnel's
 * own limits are sized for one machine. Units are last in every name. Relationships between
 * limits are asserted at the bottom, when this module loads.
 */

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

// ---- Kinesis: records and requests ---------------------------------------------------------

/** Default per-stream record size limit (data + partition key). */
export const RECORD_SIZE_DEFAULT_KIB = 1024;
export const RECORD_SIZE_MAX_KIB = 10240;
export const RECORD_SIZE_MIN_KIB = 1024;
/** Largest `Data` blob the API model allows (10 MiB). */
export const DATA_BYTES_MAX = RECORD_SIZE_MAX_KIB * KIB;
export const PARTITION_KEY_CHARS_MIN = 1;
export const PARTITION_KEY_CHARS_MAX = 256;
/** Largest UTF-8 encoding of a 256-character partition key (4 bytes per code point). */
export const PARTITION_KEY_BYTES_MAX = PARTITION_KEY_CHARS_MAX * 4;
export const PUT_RECORDS_ENTRIES_MIN = 1;
export const PUT_RECORDS_ENTRIES_MAX = 500;
/** PutRecords total (data + partition keys) since 2025. */
export const PUT_RECORDS_BYTES_MAX = 10 * MIB;
export const GET_RECORDS_LIMIT_MAX = 10_000;
export const GET_RECORDS_BYTES_MAX = 10 * MIB;
/** A ValidationException lists at most this many failures (its count is still the true count). */
export const VALIDATION_ERRORS_LISTED_MAX = 10;

// ---- Kinesis: names, counts, retention -----------------------------------------------------

export const STREAM_NAME_CHARS_MAX = 128;
export const SHARD_ID_CHARS_MAX = 128;
/**
 * Largest number a ShardId resolves to: Kinesis reads a shard id by the number after its `-`
 * (`shardId-5`, `shard-5` and `5` all name `shardId-000000000005`) up to the Java int range, and
 * cannot find one above it (kinesalite's tests, recorded against the service).
 */
export const SHARD_INDEX_MAX = 2 ** 31 - 1;
export const STREAM_ARN_CHARS_MAX = 2048;
export const SHARD_COUNT_MIN = 1;
/**
 * Open shards UpdateShardCount scales a stream to at most (Kinesis's ceiling). CreateStream is
 * bounded by the account's shard limit only, as in Kinesis.
 */
export const SHARD_COUNT_MAX = 10_000;
/**
 * Shards a worker opens in one task. Opening a shard (its directory, segment file and index) takes
 * a few milliseconds, and a worker runs its tasks in turn: a stream of thousands of shards opened
 * in one task would hold up every append to the worker's other shards for as many seconds. In
 * tasks of this many, an append waits for one task at most (some 100 ms).
 */
export const SHARDS_OPENED_PER_TASK_MAX = 32;
/**
 * Times a reshard's seal (each closed shard's end, confirmed by its worker) is tried before the
 * engine leaves the end to be found at the next open: a worker that died is replaced, and the
 * tasks queued for it run on its replacement.
 */
export const RESHARD_SEAL_ATTEMPTS = 3;
/** UpdateShardCount calls per stream in any 24 hours (Kinesis's default; limits mode only). */
export const UPDATE_SHARD_COUNT_PER_DAY_MAX = 10;
/** The account-wide shard limit DescribeLimits reports and CreateStream enforces. */
export const ACCOUNT_SHARD_LIMIT = 20_000;
export const ON_DEMAND_STREAM_COUNT_LIMIT = 50;
export const ON_DEMAND_INITIAL_SHARD_COUNT = 4;
export const RETENTION_HOURS_MIN = 24;
export const RETENTION_HOURS_MAX = 8760;
export const RETENTION_HOURS_DEFAULT = 24;
export const LIST_STREAMS_LIMIT_MAX = 10_000;
export const LIST_STREAMS_RETURNED_MAX = 100;
export const DESCRIBE_STREAM_LIMIT_MAX = 10_000;
export const DESCRIBE_STREAM_RETURNED_MAX = 100;
export const LIST_SHARDS_MAX_RESULTS_MAX = 10_000;
export const LIST_SHARDS_RETURNED_MAX = 1000;
export const TAGS_PER_STREAM_MAX = 50;
export const TAGS_PER_REQUEST_MAX = 200;
export const TAG_KEYS_PER_REMOVE_MAX = 50;
export const TAG_KEY_CHARS_MAX = 128;
export const TAG_VALUE_CHARS_MAX = 256;
export const LIST_TAGS_LIMIT_MAX = 50;
export const NEXT_TOKEN_CHARS_MAX = 1_048_576;
export const CONSUMER_NAME_CHARS_MAX = 128;
export const CONSUMER_ARN_CHARS_MAX = 2048;
/** TagResource / UntagResource / ListTagsForResource name a stream or consumer by this ARN. */
export const RESOURCE_ARN_CHARS_MAX = 2048;
export const KMS_KEY_ID_CHARS_MAX = 2048;
/**
 * Largest resource policy (UTF-8 bytes) PutResourcePolicy stores. The model puts no bound on
 * Policy; AWS caps resource-based policies at 20 KB where it documents one (S3 bucket policies,
 * Lambda function policies), and every stream and consumer may hold one in the catalog, which
 * is rewritten whole on each change, so Runnel bounds it there (InvalidArgumentException).
 */
export const RESOURCE_POLICY_BYTES_MAX = 20 * KIB;
export const LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX = 10_000;
/** ListStreamConsumers returns at most this many consumers per call (its default MaxResults). */
export const LIST_STREAM_CONSUMERS_RETURNED_MAX = 100;
/**
 * A SubscribeToShard for a consumer and shard that already have one is refused for this long
 * after that one started; later, the new call takes the subscription over and the old one ends
 * (Kinesis: 5 s). A client that died without closing its connection cannot hold a shard.
 */
export const SUBSCRIPTION_TAKEOVER_MS = 5_000;
/**
 * A SubscribeToShard that ends (lifetime, take-over, deregistration, shutdown) while its client
 * has not taken what was already sent still sends its last message (the error that ended it,
 * say) and ends normally; a client that has not taken it all this long after is cut off, so a
 * client that stopped reading holds nothing for long.
 */
export const SUBSCRIPTION_END_FLUSH_MS = 5_000;
/** Enhanced fan-out consumers registered on one stream (Kinesis's default quota). */
export const CONSUMERS_PER_STREAM_MAX = 20;
/**
 * Consumers of one stream that may be CREATING at the same time: one more is refused with
 * LimitExceededException (Kinesis: 5). Limits mode only; a consumer is CREATING for
 * `streamTransitionMs`, so with the default of 0 none ever is.
 */
export const CONSUMERS_CREATING_PER_STREAM_MAX = 5;
/**
 * Streams of the account that may be CREATING at the same time: one more CreateStream is refused
 * with LimitExceededException (Kinesis: 5). Limits mode only, and only with a transition
 * (`streamTransitionMs` > 0): with none, a stream is CREATING only while its shards open.
 */
export const STREAMS_CREATING_MAX = 5;
/** Tags on one consumer (as on a stream). */
export const TAGS_PER_CONSUMER_MAX = 50;
/**
 * UpdateStreamWarmThroughput's ceiling: by default an on-demand stream cannot be scaled to more
 * than 10 GiBps (the API documentation; LimitExceededException above it).
 */
export const WARM_THROUGHPUT_MIBPS_MAX = 10 * 1024;
/**
 * A minimum throughput billing commitment lasts at least this long: a request to end it sooner
 * ends it at its earliest allowed end (ENABLED_UNTIL_EARLIEST_ALLOWED_END until then).
 */
export const THROUGHPUT_COMMITMENT_MS_MIN = 24 * 3_600_000;
/** Enable/DisableEnhancedMonitoring name 1–7 shard-level metrics. */
export const SHARD_LEVEL_METRICS_MAX = 7;

// ---- Kinesis: iterators and tokens ---------------------------------------------------------

/** A shard iterator expires this long after GetShardIterator or GetRecords issued it. */
export const SHARD_ITERATOR_TTL_MS = 300_000;
export const SHARD_ITERATOR_CHARS_MAX = 512;
export const NEXT_TOKEN_TTL_MS = 300_000;

// ---- Kinesis: SubscribeToShard --------------------------------------------------------------

/** A SubscribeToShard event stream ends normally this long after it started (Kinesis: 5 min). */
export const SUBSCRIPTION_LIFETIME_MS = 300_000;
/** A subscription with no new records sends an event (no records) at least this often. */
export const SUBSCRIPTION_HEARTBEAT_MS = 5_000;
/** Stored bytes one subscription reads for one event (whole batches: a single larger batch is
 * read whole). The next read waits until the event has been written to the connection. */
export const SUBSCRIPTION_EVENT_BYTES_MAX = 1 * MIB;

// ---- Kinesis: provisioned throughput (enforced only in limits mode) ------------------------

export const SHARD_WRITE_BYTES_PER_SEC = 1 * MIB;
export const SHARD_WRITE_RECORDS_PER_SEC = 1000;
export const SHARD_READ_BYTES_PER_SEC = 2 * MIB;
export const SHARD_READ_CALLS_PER_SEC = 5;
/** GetShardIterator calls per second per shard. */
export const SHARD_ITERATOR_CALLS_PER_SEC = 5;
/** SubscribeToShard calls per second per consumer and shard (Kinesis: 1). */
export const SUBSCRIBE_TO_SHARD_CALLS_PER_SEC = 1;
/**
 * Record bytes (data plus partition key, as GetRecords is charged) one subscription delivers per
 * second: enhanced fan-out's 2 MiB/s per consumer per shard. Events are paced to it.
 */
export const SUBSCRIPTION_BYTES_PER_SEC = 2 * MIB;

// ---- Runnel: stream lifecycle ---------------------------------------------------------------

/** Longest CREATING / DELETING transition `runnel serve --stream-transition-ms` accepts (Kinesis
 * takes seconds to a few minutes; a timer cannot wait longer than 2^31 - 1 ms anyway). */
export const STREAM_TRANSITION_MS_MAX = 600_000;
/**
 * A deleted stream whose removal failed (a worker thread that died under it, a disk error) is
 * tried again after this long, then twice as long each time up to STREAM_REMOVAL_RETRY_MS_MAX,
 * while the engine is open: it stays DELETING meanwhile, and goes as Kinesis's do once removed.
 */
export const STREAM_REMOVAL_RETRY_MS_MIN = 500;
export const STREAM_REMOVAL_RETRY_MS_MAX = 60_000;

// ---- Runnel: storage -----------------------------------------------------------------------

/** How often an engine touches its data directory's LOCK, to show it still runs. */
export const DATA_DIR_LOCK_REFRESH_MS = 1_000;
/** A LOCK nobody touched for this long is taken over (its owner is gone). */
export const DATA_DIR_LOCK_STALE_MS = 10_000;
/** Most shard worker threads one engine starts (each is a thread with its own V8 heap). */
export const WORKERS_MAX = 256;
/** The highest TCP port number. */
export const PORT_MAX = 65_535;

/** Default size of one preallocated segment file. A batch larger than a segment gets a
 * segment of its own, sized to fit. */
export const SEGMENT_BYTES_DEFAULT = 64 * MIB;
export const SEGMENT_BYTES_MIN = 64 * KIB;
/** mmap-io sizes are 32-bit: mapping 2 GiB fails, so segments stay well below. */
export const SEGMENT_BYTES_MAX = 1 * GIB;
/** A sparse index entry is published every time this many segment bytes have been written. */
export const INDEX_INTERVAL_BYTES = 16 * KIB;
/**
 * Readers read segments with pread(2) in windows: a read's first window is this many bytes
 * (or all that is committed from there, when that fits the read), and later ones grow up to
 * what the read may return.
 */
export const READ_WINDOW_BYTES_MIN = 64 * KIB;
/** Segment files a shard's reader keeps open (least recently used closed first). */
export const READER_FILES_MAX = 4;
/** Largest shared index per shard (virtual reservation of a growable SharedArrayBuffer). */
export const SHARD_INDEX_BYTES_MAX = 32 * MIB;
export const SHARD_INDEX_BYTES_INITIAL = 64 * KIB;
/** Retention is checked this often. */
export const RETENTION_CHECK_INTERVAL_MS = 60_000;

// ---- Runnel: threads and batching ----------------------------------------------------------

/** Bytes queued for one worker before the engine answers with a throttling error. */
export const WORKER_IN_FLIGHT_BYTES_MAX = 256 * MIB;
/**
 * Append tasks a worker may have outstanding: two let the main thread encode the next batch
 * while the worker appends the last one (a worker runs its tasks in order, one at a time). Both
 * are posted to the worker's thread at once (worker-pool.ts).
 */
export const WORKER_TASKS_IN_FLIGHT_MAX = 2;
/**
 * Tasks that may wait for one worker behind the one it runs: the batcher's appends (at most
 * WORKER_TASKS_IN_FLIGHT_MAX) and control tasks (open, close, retention, sync), which come from
 * stream management rather than record traffic. Past it a task fails with InternalFailure.
 */
export const WORKER_TASK_QUEUE_MAX = 1024;
/** A per-worker batch is flushed at the end of the event-loop turn, or when it reaches this. */
export const WORKER_BATCH_BYTES_MAX = 16 * MIB;
/**
 * Batches from this size up are copied into buffers the shard workers move back for reuse
 * (src/engine/put-buffers.ts); smaller ones get buffers of their own.
 */
export const PUT_BUFFER_BYTES_MIN = 16 * KIB;
/** Bytes of put buffers kept for reuse between puts, over all workers. */
export const PUT_BUFFER_POOL_BYTES_MAX = 64 * MIB;
/** Largest record batch one append carries: a full PutRecords plus batch framing. */
export const RECORD_BATCH_BYTES_MAX = PUT_RECORDS_BYTES_MAX + 64 * KIB;

// ---- Runnel: HTTP front ends ---------------------------------------------------------------

/** Largest request body the Kinesis endpoint and the uWS app read. A full PutRecords is 10 MiB of
 * data, 13.98 MB once base64-encoded, plus 500 partition keys that JSON may escape to 6 bytes per
 * UTF-16 unit (3 KiB each at worst) and their framing: 15.6 MB. Checked against Content-Length
 * before any byte of the body is read, and again as a body without one streams in. */
export const HTTP_REQUEST_BODY_BYTES_MAX = 16 * MIB;
/** How long a new connection may take to send the bytes that tell HTTP/1.1 from h2c. */
export const HTTP_PREFACE_WAIT_MS = 10_000;
/** Idle HTTP/1.1 keep-alive connections are closed after this (longer than SDK agents' reuse
 * windows, so a client never writes into a socket the server is closing). */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** A connection with no traffic at all for this long is destroyed (slow or stuck clients). */
export const HTTP_SOCKET_IDLE_TIMEOUT_MS = 120_000;
/** On shutdown, in-flight requests get this long to be answered before connections are cut. */
export const HTTP_SHUTDOWN_GRACE_MS = 10_000;
/**
 * During shutdown, how often the HTTP/2 sessions that are done are looked for, to destroy their
 * sockets: a session that is done waits for its client to close the connection, which a client
 * that stopped reading may never do.
 */
export const HTTP2_SHUTDOWN_REAP_MS = 50;
/** HTTP/2 flow-control window (per stream and per connection) the endpoint grants: one whole
 * request body, so a client never pauses mid-body waiting for a WINDOW_UPDATE. */
export const HTTP2_WINDOW_BYTES = HTTP_REQUEST_BODY_BYTES_MAX;
/** Largest HTTP/2 frame the endpoint accepts (the protocol allows 16 KiB to 16 MiB - 1). */
export const HTTP2_FRAME_BYTES_MAX = 1 * MIB;

// ---- Runnel: binary protocol ------------------------------------------------------------------
// docs/protocol.md §9. The server advertises the first five in its WELCOME frame.

/** Largest WebSocket message the server accepts: a PUT of the largest record batch, its 12-byte
 * frame header and a 255-byte stream name, rounded up. uWS drops a connection that sends more. */
export const WS_FRAME_BYTES_MAX = RECORD_BATCH_BYTES_MAX + 4 * KIB;
/** PUT frames received on one connection and not yet answered. */
export const WS_PUTS_IN_FLIGHT_MAX = 64;
/** Bytes of PUT frames received on one connection and not yet answered. */
export const WS_PUT_IN_FLIGHT_BYTES_MAX = 32 * MIB;
/** Live subscriptions on one connection. */
export const WS_SUBSCRIPTIONS_MAX = 256;
/** A connection with no traffic either way for this long is closed (uWS idleTimeout, which
 * has a 4 s resolution; uWS pings quiet connections before that). */
export const WS_IDLE_TIMEOUT_MS = 60_000;
/** Largest PING payload. */
export const WS_PING_PAYLOAD_BYTES_MAX = 1 * KIB;
/** Credit a subscription may accumulate; grants beyond it are ignored. */
export const WS_CREDIT_BYTES_MAX = 1 * GIB;
/** Subscription sends pause while a connection has more than this unsent, until uWS drains it. */
export const WS_SEND_BUFFER_BYTES_HIGH = 4 * MIB;
/** Record bytes one subscription sends per turn, so subscriptions on a connection take turns.
 * Whole batches are sent when the credit allows; only a batch larger than this is cut. */
export const WS_SEND_CHUNK_BYTES_MAX = 4 * MIB;
/**
 * The buffer subscriptions read segments into before they send (reused by every read: uWS
 * copies what it is given). Twice a chunk: a read also spans the walk from an index entry and a
 * batch cut at the credit; a read larger still gets a buffer of its own.
 */
export const WS_READ_SCRATCH_BYTES = 2 * WS_SEND_CHUNK_BYTES_MAX;
/** Unsent bytes uWS may hold for a connection (maxBackpressure); past it the connection is
 * closed. Subscriptions stay under HIGH + CHUNK, so only a client that stops reading its acks and
 * errors while it keeps sending gets here. */
export const WS_SEND_BUFFER_BYTES_MAX = 16 * MIB;
/**
 * A caught-up subscription without credit waits this long at most for a commit or its shard's
 * end before it looks again. Both wake it at once; the bound only caps what a missed wake costs,
 * so an idle subscriber that grants nothing wakes once a minute, not twice a second.
 */
export const WS_IDLE_END_WAIT_MS = 60_000;
/** A subscription that caught up waits for a commit at most this long before it looks again
 * whether it was ended (commit waits cannot be cancelled). */
export const WS_COMMIT_WAIT_MS = 500;
/** After a fatal protocol error, puts in flight get this long to be answered before the close. */
export const WS_CLOSE_GRACE_MS = 5_000;
/** At shutdown, how long past WS_CLOSE_GRACE_MS the server waits for connections' closes to come back. */
export const WS_CLOSE_BACKSTOP_MS = 1_000;
/** Client: protocol PING interval on a connection (a third of the idle timeout). */
export const WS_KEEPALIVE_INTERVAL_MS = 20_000;
/** Client: bytes a subscription keeps granted and unconsumed (its memory bound). */
export const WS_SUBSCRIBE_WINDOW_BYTES_DEFAULT = 8 * MIB;
/** Client: how long connect() waits for the WebSocket to open and WELCOME to arrive. */
export const WS_CONNECT_TIMEOUT_MS = 10_000;

// ---- Runnel: benchmark and load harness (src/harness/) -------------------------------------

/** The ring of pre-built records a load draws from holds at most this many data bytes… */
export const LOAD_POOL_BYTES_MAX = 64 * MIB;
/** …and at most this many records (each with its own partition key by default). */
export const LOAD_POOL_RECORDS_MAX = 100_000;
/** Largest key space of `--keys uniform:N` and `zipf:S:N` (the zipf table costs 8 bytes a key). */
export const LOAD_KEY_SPACE_MAX = 10_000_000;
/** A load run never lasts longer than this, whatever --duration says. */
export const LOAD_DURATION_MS_MAX = 24 * 3_600_000;
/** Requests a load keeps in flight, over all connections. */
export const LOAD_IN_FLIGHT_MAX = 4096;
/** A request with no answer for this long fails (the load's bound on a stuck server). */
export const LOAD_REQUEST_TIMEOUT_MS = 30_000;
/** Data bytes per PutRecords the load sends by default: under the 5 MiB of older emulators. */
export const LOAD_REQUEST_DATA_BYTES_DEFAULT = 4 * MIB;
/** Memory bound of one HTTP/2 client session, in MB: several 10 MiB GetRecords answers fit. */
export const LOAD_HTTP2_SESSION_MEMORY_MB = 128;
/** Longest `peers-cli.js --seconds`: the peers it starts always stop by themselves. */
export const PEERS_RUN_SECONDS_MAX = 24 * 3600;

// ---- Relationships --------------------------------------------------------------------------

function assertLimit(condition: boolean, message: string): void {
  if (!condition) throw new Error(`limits.ts: ${message}`);
}

assertLimit(SEGMENT_BYTES_MIN >= 2 * INDEX_INTERVAL_BYTES, 'segments hold several index intervals');
assertLimit(SEGMENT_BYTES_MAX < 2 * GIB, 'mmap-io cannot map 2 GiB');
assertLimit(RECORD_BATCH_BYTES_MAX <= WORKER_BATCH_BYTES_MAX, 'a whole PutRecords fits a batch');
assertLimit(
  WORKER_TASKS_IN_FLIGHT_MAX < WORKER_TASK_QUEUE_MAX,
  'control tasks fit behind the appends',
);
assertLimit(WORKER_BATCH_BYTES_MAX <= WORKER_IN_FLIGHT_BYTES_MAX, 'a batch fits in flight');
assertLimit(SHARD_INDEX_BYTES_INITIAL <= SHARD_INDEX_BYTES_MAX, 'index starts within its max');
assertLimit(DATA_BYTES_MAX === 10 * MIB, 'the Data blob max is 10 MiB');
assertLimit(
  HTTP_REQUEST_BODY_BYTES_MAX >=
    Math.ceil(PUT_RECORDS_BYTES_MAX / 3) * 4 +
      PUT_RECORDS_ENTRIES_MAX * (PARTITION_KEY_CHARS_MAX * 12 + 128),
  'the HTTP body limit admits a full 10 MiB PutRecords in base64 JSON',
);
assertLimit(
  WS_FRAME_BYTES_MAX >= RECORD_BATCH_BYTES_MAX + 12 + 1 + 255,
  'a PUT frame holds the largest record batch and any stream name',
);
assertLimit(WS_PUT_IN_FLIGHT_BYTES_MAX >= WS_FRAME_BYTES_MAX, 'the largest PUT fits in flight');
assertLimit(
  WS_SEND_BUFFER_BYTES_MAX >= 2 * (WS_SEND_BUFFER_BYTES_HIGH + WS_SEND_CHUNK_BYTES_MAX),
  'subscriptions never reach the send buffer limit that closes a connection',
);
assertLimit(
  WS_KEEPALIVE_INTERVAL_MS * 3 <= WS_IDLE_TIMEOUT_MS,
  'clients ping well within the idle timeout',
);
assertLimit(WS_CREDIT_BYTES_MAX < 2 ** 32, 'credit fits a u32');
assertLimit(
  LOAD_REQUEST_DATA_BYTES_DEFAULT <= PUT_RECORDS_BYTES_MAX,
  'a load request fits PutRecords',
);
assertLimit(
  SUBSCRIPTION_EVENT_BYTES_MAX <= SUBSCRIPTION_BYTES_PER_SEC,
  'a paced subscription sends an event of records at least every second',
);
assertLimit(
  DATA_DIR_LOCK_STALE_MS >= 5 * DATA_DIR_LOCK_REFRESH_MS,
  'a running owner refreshes its LOCK many times before it counts as gone',
);
