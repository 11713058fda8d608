/**
 * Reads a Server-Sent Events body and calls `onFrame` with each raw frame (the text between blank
 * lines), until the body ends or the request is aborted (which ends it quietly).
 */
export async function readSseFrames(body: ReadableStream<BufferSource>, onFrame: (frame: string) => void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        onFrame(frame);
      }
    }
  } catch {
    // aborted by the test
  }
}
