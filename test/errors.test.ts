/**
 * Goal: the error catalogue (src/errors.ts) and its documentation (docs/errors.md) agree in both
 * directions, and errors survive a trip between threads as `{ code, message }`: reviveError
 * rebuilds a known pair and turns anything else into InternalFailureException.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CATALOG,
  type ErrorCode,
  type ErrorSpec,
  KinesisError,
  isErrorCode,
  reviveError,
} from '../src/errors.js';

interface DocumentedError extends ErrorSpec {
  readonly when: string;
}

const DOCS_PATH = new URL('../docs/errors.md', import.meta.url);
const HEADER = ['Code', 'HTTP status', 'Retryable', 'Fault', 'When Runnel raises it'];

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** The rows of the one table in docs/errors.md, keyed by code; malformed rows fail the test. */
function documentedErrors(): Map<string, DocumentedError> {
  const lines = readFileSync(DOCS_PATH, 'utf8').split('\n');
  const headerAt = lines.findIndex((line) => line.startsWith('| Code |'));
  expect(headerAt, 'docs/errors.md has a table whose first column is Code').toBeGreaterThan(-1);
  expect(cells(lines[headerAt]!)).toEqual(HEADER);
  expect(lines[headerAt + 1]).toMatch(/^\|( --- \|)+$/);
  const rows = new Map<string, DocumentedError>();
  for (const line of lines.slice(headerAt + 2)) {
    if (!line.startsWith('|')) break;
    const [code, status, retryable, fault, when, ...rest] = cells(line);
    expect(rest, `one cell per column in: ${line}`).toEqual([]);
    const name = /^`(\w+)`$/.exec(code ?? '')?.[1];
    expect(name, `a code in backquotes in: ${line}`).toBeDefined();
    expect(rows.has(name!), `${name} is documented once`).toBe(false);
    expect(status).toMatch(/^\d{3}$/);
    expect(retryable).toMatch(/^(yes|no)$/);
    expect(fault).toMatch(/^(client|server)$/);
    expect(when, `${name} says when it is raised`).toMatch(/^[A-Z].*\.$/);
    rows.set(name!, {
      status: Number(status),
      retryable: retryable === 'yes',
      fault: fault as ErrorSpec['fault'],
      when: when!,
    });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const catalog: Record<string, ErrorSpec> = ERROR_CATALOG;

  it('documents every code in ERROR_CATALOG, as the catalogue binds it', () => {
    const documented = documentedErrors();
    for (const [code, spec] of Object.entries(catalog)) {
      const row = documented.get(code);
      expect(row, `${code} is missing from docs/errors.md`).toBeDefined();
      expect({ code, status: row!.status, retryable: row!.retryable, fault: row!.fault }).toEqual({
        code,
        status: spec.status,
        retryable: spec.retryable,
        fault: spec.fault,
      });
    }
  });

  it('documents no code that ERROR_CATALOG lacks', () => {
    const documented = documentedErrors();
    for (const code of documented.keys()) {
      expect(isErrorCode(code), `${code} is documented but not in ERROR_CATALOG`).toBe(true);
    }
    expect([...documented.keys()].sort()).toEqual(Object.keys(catalog).sort());
  });

  it('keeps the catalogue consistent with itself', () => {
    for (const [code, spec] of Object.entries(catalog)) {
      // The SDKs call 5xx a server fault and retry it; a client fault is a 4xx.
      expect(spec.fault === 'server', code).toBe(spec.status >= 500);
      if (spec.status >= 500) expect(spec.retryable, code).toBe(true);
      const error = new KinesisError(code as ErrorCode, 'm');
      expect([error.name, error.code, error.status, error.retryable, error.$fault]).toEqual([
        code,
        code,
        spec.status,
        spec.retryable,
        spec.fault,
      ]);
    }
  });
});

describe('reviveError', () => {
  it('round-trips { code, message } for every code, across structured cloning', () => {
    for (const code of Object.keys(ERROR_CATALOG) as ErrorCode[]) {
      const original = new KinesisError(code, `message for ${code}`);
      const sent = structuredClone(original.toJSON());
      const revived = reviveError(sent);
      expect(revived).toBeInstanceOf(KinesisError);
      expect(revived.toJSON()).toEqual({ code, message: `message for ${code}` });
      expect(revived.status).toBe(ERROR_CATALOG[code].status);
    }
  });

  it('returns a KinesisError unchanged', () => {
    const error = new KinesisError('ResourceNotFoundException', 'Stream s not found.');
    expect(reviveError(error)).toBe(error);
  });

  it('turns anything else into InternalFailureException', () => {
    const junk: [unknown, string][] = [
      [undefined, 'undefined'],
      [null, 'null'],
      [42, '42'],
      ['boom', 'boom'],
      [new Error('disk on fire'), 'disk on fire'],
      [{ code: 'NoSuchCode', message: 'x' }, '[object Object]'],
      [{ code: 'ValidationException' }, '[object Object]'],
      [{ code: 'ValidationException', message: 7 }, '[object Object]'],
      [{ code: 'toString', message: 'inherited names are not codes' }, '[object Object]'],
    ];
    for (const [value, message] of junk) {
      const revived = reviveError(value);
      expect(revived).toBeInstanceOf(KinesisError);
      expect(revived.code).toBe('InternalFailureException');
      expect(revived.status).toBe(500);
      expect(revived.$fault).toBe('server');
      expect(revived.message).toBe(message);
    }
  });
});
