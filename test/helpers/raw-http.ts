/** Reading HTTP/1.1 responses off a raw socket, for tests that send what no client would. */

export interface ResponseHead {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Where the body begins in the bytes given. */
  bodyStart: number;
}

/** The status line and headers of the first response in `bytes`, or undefined while incomplete. */
export function parseResponseHead(bytes: Buffer): ResponseHead | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, bodyStart: headEnd + 4 };
}
