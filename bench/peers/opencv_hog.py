"""OpenCV's HOGDescriptor on the Fashion-MNIST test images, one thread.

Usage: /usr/bin/python3 bench/peers/opencv_hog.py [SIZE] [CELL]
Prints: RESULT name=opencv-hog threads=1 size=S images=N seconds=... images_per_s=... mpix_per_s=...
"""
import gzip, sys, time
import numpy as np
import cv2

size = int(sys.argv[1]) if len(sys.argv) > 1 else 28
cell = int(sys.argv[2]) if len(sys.argv) > 2 else 4
with gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz') as f:
    imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
if size != 28:
    imgs = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC) for im in imgs])
cv2.setNumThreads(1)
# Dalal-Triggs layout: 2x2-cell blocks with a one-cell stride, 9 bins.
win = (size // cell) * cell
hog = cv2.HOGDescriptor((win, win), (2 * cell, 2 * cell), (cell, cell), (cell, cell), 9)
imgs = [np.ascontiguousarray(im[:win, :win]) for im in imgs]
best = 1e30
for _ in range(3):
    t0 = time.perf_counter()
    for im in imgs:
        hog.compute(im)
    best = min(best, time.perf_counter() - t0)
n = len(imgs)
print(f"RESULT name=opencv-hog threads=1 size={size} images={n} seconds={best:.4f} "
      f"images_per_s={n / best:.1f} mpix_per_s={n * size * size / best / 1e6:.2f}")
