/**
 * Model-driven input validation, as the Kinesis front end (Coral) does it before an operation
 * runs: every input member is checked against the constraints of the API model (botocore
 * `kinesis/2013-12-02/service-2.json`, plus the members added by `@aws-sdk/client-kinesis`
 * 3.1143) and every failure is reported in one `ValidationException`:
 *
 *   2 validation errors detected: Value 'x y' at 'streamName' failed to satisfy constraint:
 *   Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value null at 'shardId'
 *   failed to satisfy constraint: Member must not be null
 *
 * `OPERATION_MODELS` is plain data (also read by the HTTP layer for JSON type checks); at load it
 * is compiled into a tree of checkers with every regex, enum set and message built once, so a
 * 500-record PutRecords is one tight loop with no per-record allocation on the success path.
 *
 * Choices where the reference is silent:
 * - Failures are listed in model member order (botocore order; members newer than the botocore
 *   snapshot in the SDK's order). Coral's order follows Java hashing and cannot be reproduced.
 * - One failure per member, the first in the order null, type, length, pattern / range / enum.
 *   This is where Runnel knowingly differs from kinesalite, whose messages were recorded against
 *   AWS: it lists every failing constraint of a member (an empty StreamName gets a pattern and a
 *   length failure there).
 * - Every non-null value is quoted (`Value '0' at 'limit'`, as kinesalite recorded from AWS);
 *   values render as Java's toString would: blobs as `java.nio.HeapByteBuffer[pos=0 lim=N
 *   cap=N]`, lists as `[a, b]`, maps as `{k=v}`, structures as `Shape(member=value, ...)` with
 *   absent members left out, timestamps as `java.util.Date` prints them in UTC.
 * - A list of strings and a map are checked as a whole, in Coral's wording: `Member must satisfy
 *   constraint: [...]`, `Map keys must satisfy constraint: [...]`, `Map value must satisfy
 *   constraint: [...]`, listing all of the element's constraints. A list of structures is
 *   descended into: `records.2.member.partitionKey`.
 * - String lengths count Unicode code points (Smithy `@length`), not UTF-16 units.
 * - Patterns must match the whole string (Java `String.matches`).
 * - Wrong JavaScript types (only library callers can send them; the HTTP layer answers
 *   SerializationException first) fail with `Member must be of type <type>`. A blob is a
 *   `Uint8Array`, a timestamp a valid `Date`, an integer a whole number in the Java int range.
 * - `PartitionKey` is required, as in every model before SDK 3.1143, unless the caller validates
 *   for a stream whose RecordDistributionStrategy is AUTO (`AUTO_DISTRIBUTION_MODELS`, the
 *   newest model, where it is optional): a request to any other stream, or to none, fails as it
 *   always has, with every failing member in one message.
 * - `RetentionPeriodHours` has no range in the model; the engine checks 24–8760 and answers
 *   InvalidArgumentException in Kinesis's words. `Data` above the stream's record size (1 MiB by
 *   default) is likewise the engine's check; the model's bound is 10485760 bytes.
 * - GetRecords `Limit` has only its lower bound (1) here: above 10000 Kinesis answers
 *   InvalidArgumentException, not ValidationException (the API documentation of GetRecords), so
 *   the engine checks it.
 * - Tag characters and the reserved `aws:` prefix are rules of the operations, not of the model:
 *   `checkTags` checks them, and answers InvalidArgumentException.
 * - `StreamId` (reserved by AWS) is accepted as any string and otherwise ignored.
 */

import { KinesisError } from '../errors.js';
import { RESOURCE_POLICY_BYTES_MAX, VALIDATION_ERRORS_LISTED_MAX } from '../limits.js';
import { javaDateString } from './java-date.js';
import {
  AUTO_DISTRIBUTION_MODELS,
  LINEAR_PATTERNS,
  OPERATION_MODELS,
  type MemberModel,
  type MemberType,
  type OperationModel,
} from './api-model.js';
import type { RecordDistributionStrategy } from './shapes.js';

export {
  AUTO_DISTRIBUTION_MODELS,
  OPERATION_MODELS,
  isOperationName,
  type MemberModel,
  type MemberType,
  type OperationModel,
  type OperationName,
} from './api-model.js';

// ---- Compiled checkers ------------------------------------------------------------------------

const NOT_NULL = 'Member must not be null';

/** A member model with everything the hot loop needs precomputed. */
interface Checker {
  readonly model: MemberModel;
  readonly type: MemberType;
  readonly required: boolean;
  readonly minLength: number;
  readonly maxLength: number;
  readonly min: number;
  readonly max: number;
  readonly regex: RegExp | null;
  readonly enumSet: ReadonlySet<string> | null;
  /** List element or map value. */
  readonly element: Checker | null;
  readonly key: Checker | null;
  readonly fields: readonly Field[];
  readonly typeMessage: string;
  readonly minLengthMessage: string;
  readonly maxLengthMessage: string;
  readonly minMessage: string;
  readonly maxMessage: string;
  readonly patternMessage: string;
  readonly enumMessage: string;
  /** For lists of scalars: every element constraint, in Coral's bracketed form. */
  readonly elementsMessage: string;
  readonly keysMessage: string;
  readonly valuesMessage: string;
}

interface Field {
  readonly name: string;
  /** The member's name in messages: lowerCamel, as Coral's Java field names are. */
  readonly pathName: string;
  readonly checker: Checker;
}

/** Java's int range: a library caller's 2**31 would not survive Coral's deserializer. */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Each constraint of a scalar model, worded as Coral lists them inside `[...]`. */
function constraintMessages(model: MemberModel): string[] {
  const messages: string[] = [];
  if (model.maxLength !== undefined) {
    messages.push(`Member must have length less than or equal to ${model.maxLength}`);
  }
  if (model.minLength !== undefined) {
    messages.push(`Member must have length greater than or equal to ${model.minLength}`);
  }
  if (model.pattern !== undefined) {
    messages.push(`Member must satisfy regular expression pattern: ${model.pattern}`);
  }
  if (model.enum !== undefined) {
    messages.push(`Member must satisfy enum value set: [${model.enum.join(', ')}]`);
  }
  if (model.max !== undefined) {
    messages.push(`Member must have value less than or equal to ${model.max}`);
  }
  if (model.min !== undefined) {
    messages.push(`Member must have value greater than or equal to ${model.min}`);
  }
  return messages;
}

/** The model's pattern must match the whole value, as Java's `String.matches` does. */
function modelRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function patternRegex(pattern: string): RegExp {
  return LINEAR_PATTERNS.get(pattern) ?? modelRegex(pattern);
}

function compile(model: MemberModel, forceRequired = false): Checker {
  const elementModel = model.type === 'list' ? model.member : model.value;
  const fields: Field[] = [];
  for (const [name, member] of Object.entries(model.members ?? {})) {
    fields.push({ name, pathName: lowerFirst(name), checker: compile(member) });
  }
  const elementConstraints = elementModel ? constraintMessages(elementModel).join(', ') : '';
  const keyConstraints = model.key ? constraintMessages(model.key).join(', ') : '';
  return {
    model,
    type: model.type,
    required: forceRequired || model.required === true,
    minLength: model.minLength ?? 0,
    maxLength: model.maxLength ?? Infinity,
    min: model.min ?? -Infinity,
    max: model.max ?? Infinity,
    regex: model.pattern === undefined ? null : patternRegex(model.pattern),
    enumSet: model.enum === undefined ? null : new Set(model.enum),
    // List elements are never null in a well-formed request; a null one is reported as such.
    element: elementModel ? compile(elementModel, true) : null,
    key: model.key ? compile(model.key, true) : null,
    fields,
    typeMessage: `Member must be of type ${model.type}`,
    minLengthMessage: `Member must have length greater than or equal to ${model.minLength}`,
    maxLengthMessage: `Member must have length less than or equal to ${model.maxLength}`,
    minMessage: `Member must have value greater than or equal to ${model.min}`,
    maxMessage: `Member must have value less than or equal to ${model.max}`,
    patternMessage: `Member must satisfy regular expression pattern: ${model.pattern}`,
    enumMessage: `Member must satisfy enum value set: [${model.enum?.join(', ')}]`,
    elementsMessage: `Member must satisfy constraint: [${elementConstraints}]`,
    keysMessage: `Map keys must satisfy constraint: [${keyConstraints}]`,
    valuesMessage: `Map value must satisfy constraint: [${elementConstraints}]`,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

deepFreeze(OPERATION_MODELS);
deepFreeze(AUTO_DISTRIBUTION_MODELS);

function compileAll(models: Record<string, OperationModel>): ReadonlyMap<string, readonly Field[]> {
  return new Map(
    Object.entries(models).map(([name, op]): [string, readonly Field[]] => [
      name,
      compile({ type: 'structure', shape: op.shape, members: op.members }).fields,
    ]),
  );
}

const CHECKERS = compileAll(OPERATION_MODELS);
const AUTO_DISTRIBUTION_CHECKERS = compileAll(AUTO_DISTRIBUTION_MODELS);

// ---- Checking ---------------------------------------------------------------------------------

/** One validation pass: the failures found so far and the path to the member being checked. */
interface Context {
  count: number;
  readonly messages: string[];
  /** Member names, map keys, and list indexes (numbers, 0-based). */
  readonly path: (string | number)[];
}

function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

function lengthFailure(length: number, checker: Checker): string | null {
  if (length < checker.minLength) return checker.minLengthMessage;
  if (length > checker.maxLength) return checker.maxLengthMessage;
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The first constraint a present scalar fails (its type first), or null. */
function scalarFailure(value: unknown, checker: Checker): string | null {
  switch (checker.type) {
    case 'string': {
      if (typeof value !== 'string') return checker.typeMessage;
      let length = value.length;
      // UTF-16 units bound code points from above and, halved, from below: count only when the
      // bounds cannot decide.
      if (length > checker.maxLength || length < 2 * checker.minLength) {
        length = codePointLength(value);
      }
      const failure = lengthFailure(length, checker);
      if (failure !== null) return failure;
      if (checker.regex !== null && !checker.regex.test(value)) return checker.patternMessage;
      if (checker.enumSet !== null && !checker.enumSet.has(value)) return checker.enumMessage;
      return null;
    }
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return checker.typeMessage;
      const representable =
        checker.type === 'integer'
          ? value >= INT_MIN && value <= INT_MAX
          : Number.isSafeInteger(value);
      if (!representable) return checker.typeMessage;
      if (value < checker.min) return checker.minMessage;
      if (value > checker.max) return checker.maxMessage;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : checker.typeMessage;
    case 'blob':
      if (!(value instanceof Uint8Array)) return checker.typeMessage;
      return lengthFailure(value.byteLength, checker);
    case 'timestamp':
      return value instanceof Date && !Number.isNaN(value.getTime()) ? null : checker.typeMessage;
    default:
      return checker.typeMessage;
  }
}

function checkFields(context: Context, input: Record<string, unknown>, fields: readonly Field[]) {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    context.path.push(field.pathName);
    checkValue(context, input[field.name], field.checker);
    context.path.pop();
  }
}

function checkValue(context: Context, value: unknown, checker: Checker): void {
  if (value === undefined || value === null) {
    if (checker.required) report(context, null, checker, NOT_NULL);
    return;
  }
  switch (checker.type) {
    case 'structure':
      if (!isPlainObject(value)) return report(context, value, checker, checker.typeMessage);
      return checkFields(context, value, checker.fields);
    case 'list': {
      if (!Array.isArray(value)) return report(context, value, checker, checker.typeMessage);
      const failure = lengthFailure(value.length, checker);
      if (failure !== null) return report(context, value, checker, failure);
      return checkList(context, value, checker);
    }
    case 'map':
      if (!isPlainObject(value)) return report(context, value, checker, checker.typeMessage);
      return checkMap(context, value, checker);
    default: {
      const failure = scalarFailure(value, checker);
      if (failure !== null) report(context, value, checker, failure);
    }
  }
}

function checkList(context: Context, list: readonly unknown[], checker: Checker): void {
  const element = checker.element!;
  const { type } = element;
  if (type === 'structure' || type === 'list' || type === 'map') {
    for (let i = 0; i < list.length; i++) {
      context.path.push(i);
      checkValue(context, list[i], element);
      context.path.pop();
    }
    return;
  }
  // Coral checks a list of scalars as a whole; only a missing or mistyped element has a path.
  let constraintFailed = false;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const failure = item === undefined || item === null ? NOT_NULL : scalarFailure(item, element);
    if (failure === null) continue;
    if (failure === NOT_NULL || failure === element.typeMessage) {
      context.path.push(i);
      report(context, item, element, failure);
      context.path.pop();
    } else {
      constraintFailed = true;
    }
  }
  if (constraintFailed) report(context, list, checker, checker.elementsMessage);
}

function checkMap(context: Context, map: Record<string, unknown>, checker: Checker): void {
  const keys = Object.keys(map);
  const failure = lengthFailure(keys.length, checker);
  if (failure !== null) return report(context, map, checker, failure);
  const keyChecker = checker.key!;
  const valueChecker = checker.element!;
  let keyFailed = false;
  let valueFailed = false;
  for (const key of keys) {
    if (scalarFailure(key, keyChecker) !== null) keyFailed = true;
    const value = map[key];
    const valueFailure =
      value === undefined || value === null ? NOT_NULL : scalarFailure(value, valueChecker);
    if (valueFailure === null) continue;
    if (valueFailure === NOT_NULL || valueFailure === valueChecker.typeMessage) {
      context.path.push(key);
      report(context, value, valueChecker, valueFailure);
      context.path.pop();
    } else {
      valueFailed = true;
    }
  }
  if (keyFailed) report(context, map, checker, checker.keysMessage);
  else if (valueFailed) report(context, map, checker, checker.valuesMessage);
}

function report(context: Context, value: unknown, checker: Checker, constraint: string): void {
  context.count++;
  if (context.messages.length >= VALIDATION_ERRORS_LISTED_MAX) return;
  const shown =
    value === undefined || value === null ? 'null' : `'${render(value, checker.model)}'`;
  context.messages.push(
    `Value ${shown} at '${renderPath(context.path)}' failed to satisfy constraint: ${constraint}`,
  );
}

function renderPath(path: readonly (string | number)[]): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `${segment + 1}.member` : segment))
    .join('.');
}

// ---- Rendering values as Java's toString would -----------------------------------------------

/** `java.util.Date#toString` in UTC: `Thu Jan 22 01:22:02 UTC 2015`. */
function renderDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : javaDateString(date.getTime());
}

function render(value: unknown, model: MemberModel | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    return `java.nio.HeapByteBuffer[pos=0 lim=${value.byteLength} cap=${value.byteLength}]`;
  }
  if (value instanceof Date) return renderDate(value);
  if (Array.isArray(value)) {
    const element = model?.type === 'list' ? model.member : undefined;
    return `[${value.map((item) => render(item, element)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (model?.type === 'structure' && model.members !== undefined) {
      const parts: string[] = [];
      for (const [name, member] of Object.entries(model.members)) {
        const memberValue = object[name];
        if (memberValue === undefined || memberValue === null) continue;
        parts.push(`${lowerFirst(name)}=${render(memberValue, member)}`);
      }
      return `${model.shape ?? 'Object'}(${parts.join(', ')})`;
    }
    const entryModel = model?.type === 'map' ? model.value : undefined;
    const entries = Object.keys(object).map((key) => `${key}=${render(object[key], entryModel)}`);
    return `{${entries.join(', ')}}`;
  }
  return String(value);
}

// ---- Public entry points ----------------------------------------------------------------------

const NO_INPUT: Record<string, unknown> = Object.freeze({});

/**
 * Checks `input` against the model of `operation` and throws one ValidationException listing
 * every failing member (at most VALIDATION_ERRORS_LISTED_MAX, counted in full). Members the
 * model does not know are ignored, as Coral ignores them. A missing input counts as `{}`. The
 * input's type is `object` so that typed inputs (`PutRecordsInput`, ...) need no cast.
 * `strategy` is the record distribution strategy of the stream the input names: AUTO validates
 * PutRecord and PutRecords by AUTO_DISTRIBUTION_MODELS, where PartitionKey is optional.
 */
export function validateInput(
  operation: string,
  input: object,
  strategy: RecordDistributionStrategy = 'USER_PARTITION_KEY',
): void {
  const auto = strategy === 'AUTO' ? AUTO_DISTRIBUTION_CHECKERS.get(operation) : undefined;
  const fields = auto ?? CHECKERS.get(operation);
  if (fields === undefined) {
    throw new KinesisError('UnknownOperationException', `Operation ${operation} is not supported.`);
  }
  const context: Context = { count: 0, messages: [], path: [] };
  // Typed inputs (CreateStreamInput, ...) are read member by member, like any other object.
  checkFields(context, (input ?? NO_INPUT) as Record<string, unknown>, fields);
  if (context.count > 0) throw validationError(context);
}

function validationError(context: Context): KinesisError {
  const noun = context.count === 1 ? 'error' : 'errors';
  return new KinesisError(
    'ValidationException',
    `${context.count} validation ${noun} detected: ${context.messages.join('; ')}`,
  );
}

/** Reports a missing member: its checker is read only to render a value, and there is none. */
const ANY_CHECKER = compile({ type: 'string' });

/**
 * The ValidationException validateInput gives a PutRecords whose records at `indexes` (from 0,
 * ascending) have no PartitionKey when nothing else about it fails: what a PutRecords checked
 * under AUTO_DISTRIBUTION_MODELS (before its stream was known) gets once its stream turns out
 * to require keys. The same words as validateInput's, so either path fails it alike.
 */
export function missingPartitionKeys(indexes: readonly number[]): KinesisError {
  const context: Context = { count: 0, messages: [], path: ['records', 0, 'partitionKey'] };
  for (const index of indexes) {
    context.path[1] = index;
    report(context, null, ANY_CHECKER, NOT_NULL);
  }
  return validationError(context);
}

/**
 * What a tag key or value may hold: Unicode letters and digits, spaces, and `_ . / = + - % @ :`:
 * the API documents `_ . / = + - % @` for `Tag` and `_ . : / = + - @` for TagResource, and
 * kinesalite, recorded against the service, accepts both (`team:owner`, the usual AWS tag form).
 * "White space" is a space (a Unicode space separator): kinesalite's tests show a tab or a
 * newline refused, like `;` and `,`.
 */
const TAG_CHARACTERS = /^[\p{L}\p{N}\p{Zs}_./=+\-%@:]*$/u;
/** Tag keys with this prefix are reserved for AWS. */
const RESERVED_TAG_PREFIX = 'aws:';

/**
 * Checks the tags a request adds (CreateStream, AddTagsToStream; `values` empty for
 * RemoveTagsFromStream, which names keys only), once the model checks have passed: a key with
 * the reserved `aws:` prefix (checked on added keys; wording of kinesis-mock, which the
 * reference cites for the rule), then a key or value with a character tags may not hold
 * (kinesalite's wording, recorded against the service), are InvalidArgumentException.
 */
export function checkTags(
  keys: readonly string[],
  values: readonly string[],
  adding: boolean,
): void {
  if (adding) {
    const reserved = keys.filter((key) => key.startsWith(RESERVED_TAG_PREFIX));
    if (reserved.length > 0) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Cannot start tags with '${RESERVED_TAG_PREFIX}'. Invalid keys: ${reserved.join(', ')}`,
      );
    }
  }
  if (
    !keys.every((key) => TAG_CHARACTERS.test(key)) ||
    !values.every((value) => TAG_CHARACTERS.test(value))
  ) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Some tags contain invalid characters. Valid characters: ' +
        'Unicode letters, digits, white space, _ . / = + - % @ :.',
    );
  }
}

/** A KMS key id: a key's UUID, or a multi-Region key's `mrk-` id. */
const KMS_KEY = '(?:[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})';
/** A KMS alias name (`alias/aws/kinesis` is the key Kinesis owns). */
const KMS_ALIAS = 'alias/[a-zA-Z0-9:/_-]+';
/** What a KMS ARN starts with: any AWS partition, a region, a 12-digit account. */
const KMS_ARN = 'arn:aws[a-z-]*:kms:[a-z0-9-]+:\\d{12}:';
/**
 * The forms of KeyId StartStreamEncryption documents: a key id, a key ARN, an alias name or an
 * alias ARN. Anchored and without nested repetition, so it runs in linear time on any input.
 */
const KMS_KEY_ID = new RegExp(
  `^(?:${KMS_KEY}|${KMS_ALIAS}|${KMS_ARN}(?:key/${KMS_KEY}|${KMS_ALIAS}))$`,
);
/** Longest part of a refused KeyId a message repeats (the model allows 2048 characters). */
const KEY_ID_SHOWN_CHARS_MAX = 128;

/**
 * The checks of StartStreamEncryption and StopStreamEncryption the model leaves to the operation
 * (it allows EncryptionType NONE and any KeyId of 1 to 2048 characters), both
 * InvalidArgumentException: EncryptionType must be KMS ("The only valid value is KMS", the API
 * documentation of both), and KeyId must have one of the forms the documentation lists. Kinesis
 * hands the key to KMS, whose refusals (KMSNotFoundException, ...) Runnel never raises: it holds
 * no keys, so any well-formed KeyId is accepted and a malformed one is an argument error found
 * before any lookup.
 */
export function checkStreamEncryption(encryptionType: string, keyId: string): void {
  if (encryptionType !== 'KMS') {
    throw new KinesisError(
      'InvalidArgumentException',
      `EncryptionType ${encryptionType} is not valid here: the only valid value is KMS.`,
    );
  }
  if (!KMS_KEY_ID.test(keyId)) {
    const cut = keyId.length > KEY_ID_SHOWN_CHARS_MAX;
    const shown = cut ? `${keyId.slice(0, KEY_ID_SHOWN_CHARS_MAX)}...` : keyId;
    throw new KinesisError(
      'InvalidArgumentException',
      `KeyId ${shown} is not a KMS key identifier: give a key ID ` +
        '(12345678-1234-1234-1234-123456789012), a key ARN ' +
        '(arn:aws:kms:<region>:<account>:key/<key ID>), an alias name (alias/<name>, such as ' +
        'alias/aws/kinesis) or an alias ARN (arn:aws:kms:<region>:<account>:alias/<name>).',
    );
  }
}

/**
 * PutResourcePolicy's check of Policy, which the model types as any string: a JSON document
 * whose top level is an object (a policy is `{"Version": ..., "Statement": [...]}`), of at most
 * RESOURCE_POLICY_BYTES_MAX UTF-8 bytes (checked before it is parsed); else
 * InvalidArgumentException, in Runnel's words. What the statements say is not checked: Runnel
 * enforces no access policy, it keeps the document for GetResourcePolicy.
 */
export function checkResourcePolicy(policy: string): void {
  const bytes = Buffer.byteLength(policy, 'utf8');
  if (bytes > RESOURCE_POLICY_BYTES_MAX) {
    throw new KinesisError(
      'InvalidArgumentException',
      `Policy is ${bytes} bytes, more than the ${RESOURCE_POLICY_BYTES_MAX} bytes a resource ` +
        'policy may have.',
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(policy);
  } catch {
    document = undefined;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Policy is not a JSON policy document: it must be a JSON object, such as ' +
        '{"Version":"2012-10-17","Statement":[...]}.',
    );
  }
}

/**
 * Every stream operation needs StreamName, StreamARN, or both. AWS does not document its message
 * for neither; kinesis-mock answers InvalidArgumentException "Neither streamArn or streamName
 * was provided". Runnel keeps that error code, in the model's member names.
 */
export function requireStreamTarget(input: { StreamName?: unknown; StreamARN?: unknown }): void {
  const { StreamName, StreamARN } = input;
  if (
    (StreamName === undefined || StreamName === null) &&
    (StreamARN === undefined || StreamARN === null)
  ) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Neither StreamName nor StreamARN was provided.',
    );
  }
}

/**
 * GetShardIterator's own check of an AT_TIMESTAMP position without a timestamp (the model makes
 * Timestamp optional), in Kinesis's words; the binary protocol's client makes it too.
 */
export function requireTimestamp(type: unknown, timestamp: unknown): void {
  if (type === 'AT_TIMESTAMP' && (timestamp === undefined || timestamp === null)) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. ' +
        'Current request has no timestamp parameter.',
    );
  }
}
