"""Audio features: each clip decoded once (wav, flac, aif, ogg through libsndfile), cut into short
overlapping windows, and summarised over time: log-mel band statistics, MFCCs, spectral contrast,
zero-crossing rate, loudness and the shape of the spectrum. numpy and scipy do the signal work."""

from __future__ import annotations

import functools
import io

import numpy as np
import soundfile
from scipy.fft import dct

WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
CONTRAST_EDGES = (0.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0)
"""Lower edges (Hz) of the spectral-contrast bands; the last band runs to half the sample rate."""


def load_audio(data: bytes, max_seconds: float) -> tuple[np.ndarray, int, float]:
    """Mono samples of (at most) the first max_seconds, the sample rate, and the clip's full length in seconds."""
    with soundfile.SoundFile(io.BytesIO(data)) as clip:
        rate, length = clip.samplerate, clip.frames / clip.samplerate
        samples = clip.read(frames=int(max_seconds * rate), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate, length


def audio_features(samples: np.ndarray, rate: int, length: float, n_mels: int, n_mfcc: int) -> np.ndarray:
    """One vector per clip: per mel band the mean, spread and 10/50/90th percentiles of its log
    energy over time; mean and spread of the MFCCs and of the spectral contrast per band; zero
    crossings, loudness, spectral centroid, bandwidth and roll-off; the clip's length and rate."""
    n_fft = 1 << int(np.ceil(np.log2(max(WINDOW_SECONDS * rate, 16))))
    frames = frame_signal(samples, n_fft, max(1, int(HOP_SECONDS * rate)))
    magnitude = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    power = magnitude**2
    log_mel = np.log(power @ mel_filters(rate, n_fft, n_mels).T + 1e-10)
    mfcc = dct(log_mel, type=2, norm="ortho", axis=1)[:, :n_mfcc]
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    total = power.sum(axis=1) + 1e-10
    centroid = power @ freqs / total
    bandwidth = np.sqrt(power @ freqs**2 / total - centroid**2 + 1e-10)
    rolloff = freqs[
        np.minimum((np.cumsum(power, axis=1) < 0.85 * total[:, None]).sum(axis=1), len(freqs) - 1)
    ]
    crossings = (np.abs(np.diff(np.sign(frames), axis=1)) > 0).mean(axis=1)
    loudness = np.sqrt((frames**2).mean(axis=1))
    per_frame = np.column_stack(
        [spectral_contrast(magnitude, freqs), crossings, loudness, centroid, bandwidth, rolloff]
    )
    return np.concatenate(
        [
            log_mel.mean(axis=0),
            log_mel.std(axis=0),
            np.percentile(log_mel, [10, 50, 90], axis=0).ravel(),
            mfcc.mean(axis=0),
            mfcc.std(axis=0),
            per_frame.mean(axis=0),
            per_frame.std(axis=0),
            [loudness.max(), length, rate],
        ]
    ).astype(np.float32)


def frame_signal(samples: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Overlapping windows of n_fft samples, hop apart (short clips are padded to one window)."""
    if len(samples) < n_fft:
        samples = np.pad(samples, (0, n_fft - len(samples)))
    return np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop]


@functools.cache
def mel_filters(rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale from 20 Hz to half the sample rate."""
    mel = np.linspace(hz_to_mel(20.0), hz_to_mel(rate / 2), n_mels + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    rising = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.clip(np.minimum(rising, falling), 0, None).astype(np.float32)


def hz_to_mel(hz: float) -> float:
    return float(2595 * np.log10(1 + hz / 700))


def spectral_contrast(magnitude: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Per band and window: log of the mean of its loudest fifth of bins over its quietest fifth
    (peaks against valleys: tones and harmonics stand out, noise does not)."""
    edges = [*CONTRAST_EDGES, freqs[-1] + 1]
    columns = []
    for low, high in zip(edges[:-1], edges[1:], strict=False):
        band = np.sort(magnitude[:, (freqs >= low) & (freqs < high)], axis=1)
        if band.shape[1] == 0:
            columns.append(np.zeros(len(magnitude), dtype=np.float32))
            continue
        k = max(1, band.shape[1] // 5)
        columns.append(np.log(band[:, -k:].mean(axis=1) + 1e-10) - np.log(band[:, :k].mean(axis=1) + 1e-10))
    return np.column_stack(columns)
