import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { HttpAuth } from '../../apps/camera/src/sources/http-auth.ts';
import { parseDigestChallenge } from '../../apps/common/src/http-digest.ts';

const parseChallenge = (header: string) => parseDigestChallenge(header)!;

/** The Authorization header's parameters as a map. */
const params = (header: string): Record<string, string> => parseChallenge(header.replace(/^Digest\s+/, 'Digest ')) as Record<string, string>;

describe('Digest auth (RFC 7616 / RFC 2617 worked examples)', () => {
  // RFC 7616 section 3.9.1: the same request answered with MD5 and with SHA-256.
  const rfc7616 = (algorithm: string) =>
    `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
  const cnonce = () => 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';

  test('RFC 7616 MD5 example gives response 8ca523f5...', () => {
    const auth = new HttpAuth('Mufasa', 'Circle of Life', { cnonce });
    assert.equal(auth.learn(rfc7616('MD5')), true);
    const p = params(auth.header('GET', 'http://www.example.org/dir/index.html')!);
    assert.equal(p.response, '8ca523f5e9506fed4657c9700eebdbec');
    assert.deepEqual([p.username, p.realm, p.uri, p.qop, p.nc, p.cnonce, p.opaque, p.algorithm],
      ['Mufasa', 'http-auth@example.org', '/dir/index.html', 'auth', '00000001', cnonce(), 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS', 'MD5']);
  });

  test('RFC 7616 SHA-256 example gives response 753927fa...', () => {
    const auth = new HttpAuth('Mufasa', 'Circle of Life', { cnonce });
    auth.learn(rfc7616('SHA-256'));
    const p = params(auth.header('GET', 'http://www.example.org/dir/index.html')!);
    assert.equal(p.response, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    assert.equal(p.algorithm, 'SHA-256');
  });

  test('RFC 2617 example (quoted values, no algorithm) gives response 6629fae4...', () => {
    const auth = new HttpAuth('Mufasa', 'Circle Of Life', { cnonce: () => '0a4f113b' });
    auth.learn('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    const p = params(auth.header('GET', 'http://host.com/dir/index.html')!);
    assert.equal(p.response, '6629fae49393a05397450978507c4ef1');
  });

  test('the nonce count goes up per request and the query string is part of the uri', () => {
    const auth = new HttpAuth('u', 'p', { cnonce });
    auth.learn(rfc7616('MD5'));
    const first = params(auth.header('GET', 'http://cam/snap.jpg?ch=1')!);
    const second = params(auth.header('GET', 'http://cam/snap.jpg?ch=1')!);
    assert.deepEqual([first.nc, second.nc, first.uri], ['00000001', '00000002', '/snap.jpg?ch=1']);
    assert.notEqual(first.response, second.response);
  });

  test('a stale nonce means retry with the new nonce (count restarts); the same nonce again means wrong credentials', () => {
    const auth = new HttpAuth('u', 'p', { cnonce });
    assert.equal(auth.learn('Digest realm="r", nonce="n1", qop="auth"'), true);
    auth.header('GET', 'http://cam/a');
    auth.header('GET', 'http://cam/a');
    assert.equal(auth.learn('Digest realm="r", nonce="n2", qop="auth", stale=true'), true);
    const p = params(auth.header('GET', 'http://cam/a')!);
    assert.deepEqual([p.nonce, p.nc], ['n2', '00000001']);
    // Rejected again with the nonce we just used and not stale: the password is wrong.
    assert.equal(auth.learn('Digest realm="r", nonce="n2", qop="auth"'), false);
    // A server that rotated the nonce without saying stale still deserves one retry.
    assert.equal(auth.learn('Digest realm="r", nonce="n3", qop="auth"'), true);
  });

  test('parseDigestChallenge: quoted commas, escapes, token values, case-insensitive names', () => {
    const c = parseChallenge('Digest Realm="a, \\"b\\"", NONCE=abc123, qop="auth", stale=TRUE');
    assert.equal(c.realm, 'a, "b"');
    assert.equal(c.nonce, 'abc123');
    assert.equal(c.qop, 'auth');
    assert.equal(c.stale, 'TRUE');
  });
});

describe('Basic auth and no credentials', () => {
  test('Basic after a Basic challenge; one retry only', () => {
    const auth = new HttpAuth('admin', 'pa:ss');
    assert.equal(auth.header('GET', 'http://cam/'), undefined, 'nothing sent before the camera asks');
    assert.equal(auth.learn('Basic realm="cam"'), true);
    assert.equal(auth.header('GET', 'http://cam/'), `Basic ${Buffer.from('admin:pa:ss').toString('base64')}`);
    assert.equal(auth.learn('Basic realm="cam"'), false);
  });

  test('without a username nothing is learned or sent', () => {
    const auth = new HttpAuth();
    assert.equal(auth.hasCredentials, false);
    assert.equal(auth.learn('Digest realm="r", nonce="n"'), false);
    assert.equal(auth.header('GET', 'http://cam/'), undefined);
  });
});
