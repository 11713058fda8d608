import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';

/**
 * A simulated HTTP IP camera (a real protocol peer, not a stub): `/mjpeg` serves
 * multipart/x-mixed-replace JPEG parts at `fps`, `/snapshot.jpg` one JPEG per request. Auth as
 * cameras do it: none, Basic, or Digest (RFC 7616, MD5, qop=auth, nonce per server).
 */
export interface HttpCameraSim {
  baseUrl: string;
  /** Requests rejected with 401 after the client sent credentials (wrong password). */
  authFailures(): number;
  /** Requests answered with content. */
  served(): number;
  close(): Promise<void>;
}

export interface HttpCameraOptions {
  auth?: 'none' | 'basic' | 'digest';
  username?: string;
  password?: string;
  /** MJPEG part rate (default 10). */
  fps?: number;
  /** Serve large incompressible (noise) frames of this size instead of small solid ones. */
  noise?: { width: number; height: number };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export async function startHttpCameraSim(opts: HttpCameraOptions = {}): Promise<HttpCameraSim> {
  const auth = opts.auth ?? 'none';
  const user = opts.username ?? 'admin';
  const pass = opts.password ?? 'secret';
  const realm = 'sim-camera';
  const nonce = randomBytes(12).toString('hex');
  const fps = opts.fps ?? 10;
  // Three distinct frames, so a consumer can see that frames change.
  const noise = opts.noise;
  const frames = noise
    ? await Promise.all([1, 2, 3].map(() => sharp(randomBytes(noise.width * noise.height * 3), { raw: { width: noise.width, height: noise.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()))
    : await Promise.all(['#c04040', '#40c040', '#4040c0'].map((c) =>
      sharp({ create: { width: 320, height: 180, channels: 3, background: c } }).jpeg({ quality: 60 }).toBuffer()));
  let authFailures = 0;
  let served = 0;
  let n = 0;

  const authorized = (req: IncomingMessage): boolean => {
    if (auth === 'none') return true;
    const h = req.headers.authorization ?? '';
    if (auth === 'basic') return h === `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    if (!/^Digest /.test(h)) return false;
    const p: Record<string, string> = {};
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) p[m[1]!] = m[2] ?? m[3]!;
    if (p.username !== user || p.nonce !== nonce || p.uri !== req.url || p.qop !== 'auth') return false;
    const expected = md5(`${md5(`${user}:${realm}:${pass}`)}:${nonce}:${p.nc}:${p.cnonce}:auth:${md5(`${req.method}:${p.uri}`)}`);
    return p.response === expected;
  };
  const challenge = () => auth === 'basic' ? `Basic realm="${realm}"` : `Digest realm="${realm}", qop="auth", nonce="${nonce}", opaque="sim", algorithm=MD5`;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!authorized(req)) {
      if (req.headers.authorization) authFailures++;
      res.writeHead(401, { 'www-authenticate': challenge(), 'content-type': 'text/plain' }).end('unauthorized');
      return;
    }
    if (req.url === '/snapshot.jpg') {
      served++;
      const f = frames[n++ % frames.length]!;
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': f.length }).end(f);
      return;
    }
    if (req.url === '/mjpeg') {
      served++;
      res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=simframe' });
      const timer = setInterval(() => {
        if (res.writableEnded || res.destroyed) return;
        const f = frames[n++ % frames.length]!;
        res.write(`--simframe\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\n\r\n`);
        res.write(f);
        res.write('\r\n');
      }, 1000 / fps);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    authFailures: () => authFailures,
    served: () => served,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
