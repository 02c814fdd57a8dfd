"""Shared by the Python peers: the Fashion-MNIST test images, upscaled the
way bench_features does it (bicubic), and the RESULT line."""
import gzip

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

