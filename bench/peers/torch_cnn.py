"""The same CNNs as bench_cnn.c in PyTorch (CPU), on the same images.

Usage: /usr/bin/python3 bench/peers/torch_cnn.py NET TRAIN EPOCHS TEST THREADS [BATCH] [SEED]
  NET: lenet | cnn2. The first TRAIN official training images and the first
  TEST test images of Fashion-MNIST, pixels / 255, standardised with the
  training mean and sd (as visbench does), Adam lr 0.001, no weight decay.
Prints the same RESULT / EPOCH lines as bench_cnn (name=torch-NET).
Training time counts the epochs only; inference is the best of 3 passes in
batches of 64 under torch.inference_mode().
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn

net_name = sys.argv[1]
n_train, epochs, n_test, threads = (int(a) for a in sys.argv[2:6])
batch = int(sys.argv[6]) if len(sys.argv) > 6 else 64
seed = int(sys.argv[7]) if len(sys.argv) > 7 else 1
torch.set_num_threads(threads)
torch.manual_seed(seed)
root = '/usr/share/datasets/fashion-mnist/'


def idx(name, offset):
    with gzip.open(root + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


Xtr = idx('train-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)[:n_train].astype(np.float32) / 255
ytr = idx('train-labels-idx1-ubyte.gz', 8)[:n_train].astype(np.int64)
Xte = idx('t10k-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)[:n_test].astype(np.float32) / 255
yte = idx('t10k-labels-idx1-ubyte.gz', 8)[:n_test].astype(np.int64)
mean, sd = float(Xtr.mean()), float(Xtr.std())
Xtr = torch.from_numpy((Xtr - mean) / sd)
Xte = torch.from_numpy((Xte - mean) / sd)
ytr = torch.from_numpy(ytr)

if net_name == 'lenet':
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
elif net_name == 'cnn2':
    net = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))
else:
    sys.exit('torch_cnn.py: NET is lenet or cnn2')

opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
g = torch.Generator().manual_seed(seed)
curve = []
for e in range(epochs):
    net.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(ytr), generator=g)
    loss_sum, hits = 0.0, 0
    for i in range(0, len(ytr), batch):
        j = perm[i:i + batch]
        x, y = Xtr[j], ytr[j]
        opt.zero_grad(set_to_none=True)
        out = net(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(j)
        hits += int((out.argmax(1) == y).sum())
    curve.append((loss_sum / len(ytr), hits / len(ytr), time.perf_counter() - t0))

net.eval()
best = 1e30
with torch.inference_mode():
    for _ in range(3):
        t0 = time.perf_counter()
        pred = torch.cat([net(Xte[i:i + 64]).argmax(1) for i in range(0, len(Xte), 64)])
        best = min(best, time.perf_counter() - t0)
acc = float((pred.numpy() == yte).mean())
train_s = sum(c[2] for c in curve)
fwd = {'lenet': 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10),
       'cnn2': 2 * (28 * 28 * 32 * 25 + 14 * 14 * 64 * 800 + 3136 * 1024 + 1024 * 10)}[net_name]
first = {'lenet': 2 * 28 * 28 * 6 * 25, 'cnn2': 2 * 28 * 28 * 32 * 25}[net_name]
train_flops = 3 * fwd - first  # no input gradient for the first layer
tr_ips, inf_ips = len(ytr) * epochs / train_s, len(Xte) / best
print(f"RESULT name=torch-{net_name} threads={threads} train={len(ytr)} epochs={epochs} batch={batch} "
      f"train_s={train_s:.2f} train_images_per_s={tr_ips:.1f} infer_images_per_s={inf_ips:.1f} "
      f"accuracy={acc:.4f} train_gflops={tr_ips * train_flops / 1e9:.1f} infer_gflops={inf_ips * fwd / 1e9:.1f} "
      f"torch={torch.__version__}")
for e, (l, a, s) in enumerate(curve):
    print(f"EPOCH name=torch-{net_name} epoch={e + 1} loss={l:.4f} train_acc={a:.4f} seconds={s:.2f}")
