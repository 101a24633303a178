// Audio for the media checks: G.711 mu-law (what both test peers send), a sine tone in 20 ms packets,
// and the Goertzel filter, which says how much of a frequency a stretch of audio holds, relative to
// its whole energy. A tone that crossed the SBC shows as a ratio near 1; silence or noise near 0.

export function muLawEncode(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, sample));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function muLawDecode(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

/** 160 mu-law bytes (20 ms at 8 kHz) of a sine at `hz`, starting at sample `offset`. */
export function tonePacket(hz: number, offset: number, amplitude = 8000): Buffer {
  const out = Buffer.alloc(160);
  for (let i = 0; i < 160; i++) out[i] = muLawEncode(Math.round(amplitude * Math.sin((2 * Math.PI * hz * (offset + i)) / 8000)));
  return out;
}

/** Half a second at 8 kHz: less than this is no evidence that audio flows. */
export const MIN_SAMPLES = 4000;

/** The share of the signal's energy at `hz` (0..1), by the Goertzel algorithm; 0 for under half a second. */
export function toneRatio(samples: ArrayLike<number>, hz: number, rate = 8000): number {
  const n = samples.length;
  if (n < MIN_SAMPLES) return 0;
  const k = Math.round((n * hz) / rate);
  const w = (2 * Math.PI * k) / n;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}

/** The 16-bit mono samples of a PCM WAV file (what baresip's sndfile module writes), tolerating a header it has not finished. */
export function wavSamples(bytes: Buffer): Int16Array {
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (id === 'data') {
      const end = size === 0 || at + 8 + size > bytes.length ? bytes.length : at + 8 + size;
      const data = bytes.subarray(at + 8, end - ((end - at - 8) % 2));
      return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    }
    at += 8 + size + (size % 2);
  }
  return new Int16Array(0);
}
