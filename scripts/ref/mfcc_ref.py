#!/usr/bin/python3
"""Reference fixtures for gmmkit's MFCC front-end and feature post-processing.

Writes into tests/data/mfcc/:
  *.wav            short deterministic test signals (16-bit PCM, 16 kHz and 8 kHz)
  cases.txt        one line per MFCC/fbank case: name wav key=value ... (Kaldi option names)
  <case>.npy       the expected matrix from torchaudio.compliance.kaldi (a port of Kaldi's
                   feature code), computed in float64 on the 16-bit sample values
  post_*.npy       inputs and expected outputs of deltas, sliding CMVN, VAD and warping,
                   computed here with numpy / torchaudio.functional (independently of gmmkit)
  NOTES            versions of the references

Run from the repository root: /usr/bin/python3 scripts/ref/mfcc_ref.py
Debian packages: python3-torchaudio (pulls python3-torch, python3-numpy).
"""
import math
import os
import statistics
import sys
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as K
import torchaudio.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "mfcc")
OUT = os.path.normpath(OUT)


def write_wav(path, x, rate):
    """x: int16 samples."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.astype("<i2").tobytes())


def signals():
    rng = np.random.default_rng(20240521)
    sigs = {}
    # 16 kHz, 0.6 s: a linear chirp 200 -> 5000 Hz over a 1 kHz tone and white noise.
    r = 16000
    t = np.arange(int(0.6 * r)) / r
    chirp = np.sin(2 * np.pi * (200 * t + 0.5 * (5000 - 200) / t[-1] * t * t))
    x = 0.3 * chirp + 0.1 * np.sin(2 * np.pi * 1000 * t) + 0.02 * rng.standard_normal(t.size)
    sigs["chirp16k"] = (x, r)
    # 16 kHz, 1.0 s: a vowel-like harmonic series (f0 120 Hz with formant-shaped amplitudes),
    # amplitude-modulated, then a near-silent stretch, plus a DC offset and noise.
    t = np.arange(r) / r
    v = np.zeros_like(t)
    for h in range(1, 40):
        f = 120 * h
        amp = np.exp(-((f - 700) / 300) ** 2) + 0.6 * np.exp(-((f - 1200) / 400) ** 2) + 0.02
        v += amp * np.sin(2 * np.pi * f * t + h)
    env = np.where(t < 0.7, 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t), 0.01)
    x = 0.15 * v * env + 0.01 + 0.003 * rng.standard_normal(t.size)
    sigs["vowel16k"] = (x, r)
    # 8 kHz, 0.8 s: a falling chirp and noise.
    r = 8000
    t = np.arange(int(0.8 * r)) / r
    x = 0.4 * np.sin(2 * np.pi * (3500 * t - 0.5 * 3000 / t[-1] * t * t)) + 0.03 * rng.standard_normal(t.size)
    sigs["chirp8k"] = (x, r)
    # 8 kHz, 2803 samples (not a whole number of shifts): two tones and noise.
    t = np.arange(2803) / r
    x = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2100 * t) + 0.05 * rng.standard_normal(t.size)
    sigs["tones8k"] = (x, r)
    out = {}
    for name, (x, r) in sigs.items():
        q = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
        out[name] = (q, r)
    return out


# Kaldi compute-mfcc-feats defaults (with dither 0); every case overrides some of them.
BASE = dict(
    frame_length=25.0, frame_shift=10.0, dither=0.0, preemphasis_coefficient=0.97,
    remove_dc_offset=True, window_type="povey", blackman_coeff=0.42,
    round_to_power_of_two=True, snip_edges=True, num_mel_bins=23, low_freq=20.0,
    high_freq=0.0, num_ceps=13, use_energy=True, raw_energy=True, energy_floor=0.0,
    cepstral_lifter=22.0, htk_compat=False,
)

CASES = [
    # name, signal, output, overrides
    ("kaldi_chirp16k", "chirp16k", "mfcc", {}),
    ("kaldi_vowel16k", "vowel16k", "mfcc", {}),
    ("kaldi_chirp8k", "chirp8k", "mfcc", {}),
    ("kaldi_tones8k", "tones8k", "mfcc", {}),
    ("htk_c0_vowel16k", "vowel16k", "mfcc",
     dict(htk_compat=True, use_energy=False, window_type="hamming", remove_dc_offset=False,
          num_mel_bins=26, low_freq=0.0)),
    ("htk_energy_chirp8k", "chirp8k", "mfcc",
     dict(htk_compat=True, use_energy=True, window_type="hamming", num_mel_bins=26,
          low_freq=0.0)),
    ("c0_noenergy_chirp16k", "chirp16k", "mfcc", dict(use_energy=False)),
    ("windowed_energy_floor_vowel16k", "vowel16k", "mfcc",
     dict(raw_energy=False, energy_floor=1.0)),
    ("nopreemph_hanning_chirp16k", "chirp16k", "mfcc",
     dict(preemphasis_coefficient=0.0, window_type="hanning")),
    ("nosnip_vowel16k", "vowel16k", "mfcc", dict(snip_edges=False)),
    ("nosnip_tones8k", "tones8k", "mfcc", dict(snip_edges=False)),
    ("sre8k_chirp8k", "chirp8k", "mfcc",
     dict(num_mel_bins=23, num_ceps=23, low_freq=20.0, high_freq=3700.0, snip_edges=False)),
    ("sre16k_vowel16k", "vowel16k", "mfcc",
     dict(num_mel_bins=30, num_ceps=30, low_freq=20.0, high_freq=7600.0, snip_edges=False)),
    ("rect_nopow2_tones8k", "tones8k", "mfcc",
     dict(window_type="rectangular", round_to_power_of_two=False, frame_length=20.0,
          frame_shift=8.0)),
    ("blackman_wide_chirp16k", "chirp16k", "mfcc",
     dict(window_type="blackman", low_freq=100.0, high_freq=-200.0, num_mel_bins=40,
          num_ceps=20, cepstral_lifter=0.0)),
    ("paper_static_chirp8k", "chirp8k", "mfcc",
     dict(frame_length=30.0, window_type="hamming", num_ceps=19, use_energy=False)),
    ("fbank_chirp16k", "chirp16k", "fbank", dict(use_energy=False)),
    ("fbank_energy_htk_tones8k", "tones8k", "fbank",
     dict(use_energy=True, htk_compat=True, num_mel_bins=20)),
    ("fbank_magnitude_nosnip_vowel16k", "vowel16k", "fbank",
     dict(use_energy=True, use_power=False, snip_edges=False, num_mel_bins=40)),
]


def fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


def post_fixtures(rng):
    """Deltas, CMVN, VAD and warping references (numpy / torchaudio.functional / stdlib)."""
    x = rng.standard_normal((137, 5)).cumsum(axis=0).astype(np.float32) + 10.0
    np.save(os.path.join(OUT, "post_input.npy"), x)
    X = x.astype(np.float64)
    T = X.shape[0]

    def kernel(w):
        k = np.arange(-w, w + 1, dtype=np.float64)
        return k / (2.0 * np.sum(np.arange(1, w + 1) ** 2))

    def deltas(X, order, w):
        # Filters by repeated convolution of the regression kernel, applied to the input
        # with frames beyond the ends replaced by the first / last frame.
        outs = [X]
        filt = np.array([1.0])
        for _ in range(order):
            filt = np.convolve(filt, kernel(w))
            h = (len(filt) - 1) // 2
            idx = np.clip(np.arange(T)[:, None] + np.arange(-h, h + 1)[None, :], 0, T - 1)
            # np.convolve flips; the kernel is odd-symmetric so use correlation explicitly.
            outs.append(np.einsum("tk,tkd->td", np.broadcast_to(filt, idx.shape), X[idx]))
        return np.hstack(outs)

    d22 = deltas(X, 2, 2)
    d13 = deltas(X, 1, 3)
    # Interior rows of order 1 agree with torchaudio's compute_deltas (its padding differs).
    ta = F.compute_deltas(torch.from_numpy(X.T.copy()), win_length=7).numpy().T
    assert np.max(np.abs(ta[3:-3] - d13[3:-3, 5:])) < 1e-9
    np.save(os.path.join(OUT, "post_deltas_o2_w2.npy"), d22.astype(np.float32))
    np.save(os.path.join(OUT, "post_deltas_o1_w3.npy"), d13.astype(np.float32))

    def cmvn_ta(window, center, min_window, norm_vars):
        y = F.sliding_window_cmn(torch.from_numpy(X.copy()), cmn_window=window,
                                 min_cmn_window=min_window, center=center, norm_vars=norm_vars)
        return y.numpy()

    cases = {
        "post_cmvn_w50_center.npy": cmvn_ta(50, True, 100, False),
        "post_cmvn_w51_center_normvars.npy": cmvn_ta(51, True, 100, True),
        "post_cmvn_w40_trailing_min10.npy": cmvn_ta(40, False, 10, False),
        "post_cmvn_w300_center.npy": cmvn_ta(300, True, 100, False),
    }
    # Whole utterance (window 0), by numpy.
    cases["post_cmvn_w0_normvars.npy"] = (X - X.mean(0)) / X.std(0)
    for k, v in cases.items():
        np.save(os.path.join(OUT, k), v.astype(np.float32))

    # compute-vad on column 0 with context 2, threshold 5 + 0.5 * mean, proportion 0.6.
    e = X[:, 0]
    # A threshold at the median energy, so that both outcomes occur.
    vad_thr = float(np.median(e) - 0.5 * e.mean())
    thr = vad_thr + 0.5 * e.mean()
    above = (e > thr).astype(np.float64)
    num = np.convolve(above, np.ones(5), mode="same")
    den = np.convolve(np.ones(T), np.ones(5), mode="same")
    vad = (num >= 0.6 * den).astype(np.float32)
    assert 0 < vad.sum() < T
    np.save(os.path.join(OUT, "post_vad_ctx2.npy"), vad.reshape(-1, 1))
    with open(os.path.join(OUT, "post_vad_ctx2.txt"), "w") as f:
        f.write("energy_threshold=%r energy_mean_scale=0.5 frames_context=2 proportion_threshold=0.6\n" % vad_thr)

    # Feature warping with a 61-frame window: rank within the window shifted inside the
    # utterance, p = (N + 1/2 - R) / N, y = Phi^-1(p) (Python's statistics.NormalDist).
    N = 61
    nd = statistics.NormalDist()
    y = np.zeros_like(X)
    for t in range(T):
        s = min(max(t - N // 2, 0), T - N)
        win = X[s:s + N]
        for d in range(X.shape[1]):
            R = 1 + np.sum(win[:, d] > X[t, d])
            y[t, d] = nd.inv_cdf((N + 0.5 - R) / N)
    np.save(os.path.join(OUT, "post_warp_w61.npy"), y.astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    sigs = signals()
    for name, (q, r) in sigs.items():
        write_wav(os.path.join(OUT, name + ".wav"), q, r)
    lines = []
    for name, sig, output, over in CASES:
        q, r = sigs[sig]
        o = dict(BASE)
        o.update(over)
        o["sample_frequency"] = float(r)
        wav = torch.from_numpy(q.astype(np.float64)).unsqueeze(0)  # 16-bit range, as Kaldi
        if output == "mfcc":
            m = K.mfcc(wav, **o)
        else:
            fo = {k: v for k, v in o.items() if k not in ("num_ceps", "cepstral_lifter")}
            m = K.fbank(wav, **fo)
        m = m.numpy()
        assert np.all(np.isfinite(m)), name
        np.save(os.path.join(OUT, name + ".npy"), m.astype(np.float32))
        kv = " ".join("%s=%s" % (k, fmt(o[k])) for k in sorted(o))
        if output == "fbank":
            kv += " output=fbank"
        lines.append("%s %s.wav %s" % (name, sig, kv))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# name wav options (Kaldi names); expected: <name>.npy. Generated by scripts/ref/mfcc_ref.py\n")
        f.write("\n".join(lines) + "\n")
    post_fixtures(np.random.default_rng(7))
    with open(os.path.join(OUT, "NOTES"), "w") as f:
        f.write("Generated by scripts/ref/mfcc_ref.py (deterministic: fixed seeds).\n")
        f.write("MFCC/fbank reference: torchaudio.compliance.kaldi %s (torch %s), float64 input "
                "scaled to the 16-bit range.\n" % (torchaudio.__version__, torch.__version__))
        f.write("Deltas, whole-utterance CMVN, VAD, warping: numpy %s and Python %s statistics.NormalDist; "
                "sliding CMVN: torchaudio.functional.sliding_window_cmn %s.\n"
                % (np.__version__, sys.version.split()[0], torchaudio.__version__))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
