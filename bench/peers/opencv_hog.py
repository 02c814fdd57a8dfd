"""OpenCV's HOGDescriptor on the Fashion-MNIST test images, one thread.

Usage: /usr/bin/python3 bench/peers/opencv_hog.py [SIZE] [CELL] [COUNT]
Images are upscaled to SIZE x SIZE (bicubic) before timing; COUNT limits
how many (default all 10000). Prints:
RESULT name=opencv-hog threads=1 size=S images=N seconds=... images_per_s=... mpix_per_s=...
"""
import sys
import time

import cv2
import numpy as np

from common import load_test_images, report

size = int(sys.argv[1]) if len(sys.argv) > 1 else 28
cell = int(sys.argv[2]) if len(sys.argv) > 2 else 4
count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
imgs = load_test_images(size, count)
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
report("opencv-hog", size, len(imgs), best)
