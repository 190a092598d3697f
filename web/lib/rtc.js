// @ts-check
// WebRTC and WebAudio helpers of the seat and the wall: VP8 first in a video transceiver's
// codecs, and the level a meter shows for a block of audio samples. Browser objects are only
// touched when called.

/**
 * Put VP8 first in a video transceiver's codec list, keeping the rest (RTX, RED, FEC...).
 * @param {RTCRtpTransceiver} transceiver
 */
export function preferVp8(transceiver) {
  if (typeof transceiver.setCodecPreferences !== "function") return;
  const caps = RTCRtpReceiver.getCapabilities?.("video");
  if (!caps?.codecs) return;
  /** @param {RTCRtpCodec} c */
  const isVp8 = (c) => c.mimeType.toLowerCase() === "video/vp8";
  const vp8 = caps.codecs.filter(isVp8);
  if (vp8.length === 0) return;
  try {
    transceiver.setCodecPreferences([...vp8, ...caps.codecs.filter((c) => !isVp8(c))]);
  } catch {
    // The browser refused the list (e.g. for a send-only transceiver): keep its default order.
  }
}

/**
 * A meter's level 0..1 for time-domain samples (-1..1): their RMS in dB, -60 dB and below
 * empty, 0 dB full, so that normal speech fills about half the bar.
 * @param {ArrayLike<number> & Iterable<number>} samples
 */
export function levelOf(samples) {
  let sum = 0;
  for (const v of samples) sum += v * v;
  const rms = Math.sqrt(sum / samples.length);
  const db = 20 * Math.log10(rms + 1e-9); // -inf..0
  return Math.min(1, Math.max(0, (db + 60) / 60));
}
