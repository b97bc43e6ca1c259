/** Byte pieces laid end to end in one buffer, and where each starts in it. */
export function joined(pieces: Uint8Array[]): { bytes: Buffer; starts: number[] } {
  const starts: number[] = [];
  let at = 0;
  for (const piece of pieces) {
    starts.push(at);
    at += piece.length;
  }
  return { bytes: Buffer.concat(pieces), starts };
}
