"""Gabor bank peers on the Fashion-MNIST test images, one thread:
OpenCV (cv2.getGaborKernel + cv2.filter2D, even and odd kernels) or
scikit-image (skimage.filters.gabor). The same bank as visbench's default
gabor (frequencies 0.1 and 0.25 cycles/px, 4 orientations, bandwidth 1,
kernels of half-width ceil(3 sigma), mirrored borders) and the magnitude of
each response. The per-cell pooling visbench also does is left out here (in
Python it would cost more than the filtering at 28x28), so the peers are
timed for less work than visbench.

Usage: /usr/bin/python3 bench/peers/gabor.py opencv|skimage SIZE COUNT [REPEAT]
"""
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from common import gabor_bank, load_test_images, report  # noqa: E402

backend, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 1
imgs = [im.astype(np.float32) / 255 for im in load_test_images(size, count)]
bank = gabor_bank()

if backend == "opencv":
    import cv2
    cv2.setNumThreads(1)
    kernels = []
    for f, theta, sigma, r in bank:
        k = 2 * r + 1
        even = cv2.getGaborKernel((k, k), sigma, theta, 1 / f, 1.0, 0, ktype=cv2.CV_32F)
        odd = cv2.getGaborKernel((k, k), sigma, theta, 1 / f, 1.0, -np.pi / 2, ktype=cv2.CV_32F)
        kernels.append((even - even.mean(), odd))

    def run(im):
        for even, odd in kernels:
            re = cv2.filter2D(im, cv2.CV_32F, even, borderType=cv2.BORDER_REFLECT)
            im_ = cv2.filter2D(im, cv2.CV_32F, odd, borderType=cv2.BORDER_REFLECT)
            cv2.magnitude(re, im_)
elif backend == "skimage":
    from skimage.filters import gabor

    def run(im):
        for f, theta, _sigma, _r in bank:
            re, im_ = gabor(im, frequency=f, theta=theta, bandwidth=1, n_stds=3, mode="reflect")
            np.hypot(re, im_)
else:
    sys.exit("backend: opencv or skimage")

best = 1e30
for _ in range(repeat):
    t0 = time.perf_counter()
    for im in imgs:
        run(im)
    best = min(best, time.perf_counter() - t0)
report(f"{backend}-gabor", size, len(imgs), best)
