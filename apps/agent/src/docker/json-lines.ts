/**
 * Docker streams pulls and events as newline-delimited JSON, and a line may arrive split over
 * chunks; this reads whole objects and reports each one.
 */
export function onJsonLines(stream: NodeJS.ReadableStream, onObject: (value: unknown) => void): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer | string) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') onObject(parseLine(line));
      newline = buffer.indexOf('\n');
    }
  });
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // A garbled line is not worth failing a pull or the event watch over.
    return undefined;
  }
}

/** Resolves when the stream ends, rejects on a stream error. */
export function streamFinished(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', (err: unknown) => reject(err));
  });
}
