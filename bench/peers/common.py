"""Shared by the Python peers: the Fashion-MNIST test images, upscaled the
way bench_features does it (bicubic), and the RESULT line; for the
classifier peers the features bench_classifiers wrote, and a timed fit and
prediction."""
import gzip
import resource
import time

import numpy as np

IMAGES = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'


def load_test_images(size=28, count=0):
    """uint8 images (count of them, 0 = all 10000), size x size."""
    with gzip.open(IMAGES) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    if count:
        imgs = imgs[:count]
    if size != 28:
        import cv2
        imgs = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC) for im in imgs])
    return imgs


def report(name, size, n, seconds):
    print(f"RESULT name={name} threads=1 size={size} images={n} seconds={seconds:.4f} "
          f"images_per_s={n / seconds:.1f} mpix_per_s={n * size * size / seconds / 1e6:.2f}", flush=True)


def gabor_bank(frequencies=(0.1, 0.25), orientations=4, bandwidth=1.0, n_stds=3.0):
    """(frequency, theta, sigma, r) of visbench's default gabor bank: sigma
    from the bandwidth as scikit-image computes it, half-width ceil(n_stds sigma)."""
    bank = []
    for f in frequencies:
        sigma = 1 / (np.pi * f) * np.sqrt(np.log(2) / 2) * (2 ** bandwidth + 1) / (2 ** bandwidth - 1)
        r = int(np.ceil(n_stds * sigma))
        for o in range(orientations):
            bank.append((f, o * np.pi / orientations, sigma, r))
    return bank



def load_features(d):
    """(Xtr, ytr, Xte, yte) from the .npy files bench_classifiers wrote in d."""
    return (np.load(f'{d}/train_X.npy'), np.load(f'{d}/train_y.npy'),
            np.load(f'{d}/test_X.npy'), np.load(f'{d}/test_y.npy'))


def fit_and_report(name, model, Xtr, ytr, Xte, yte):
    """Fits and predicts, then prints the classifier RESULT line (rss_mb: the
    process's peak so far)."""
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    t1 = time.perf_counter()
    p = model.predict(Xte)
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'RESULT name={name} train_s={t1 - t0:.3f} predict_s={t2 - t1:.3f} accuracy={np.mean(p == yte):.4f} '
          f'rss_mb={rss:.0f} n_train={len(ytr)} n_test={len(yte)}', flush=True)
