"""Development probe: compare decoder variants quickly on ../shared/datasets (not part of the product)."""
import sys, time, glob, os
import numpy as np, torch
from sklearn.metrics import roc_auc_score
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from core.imageio import load_image
from core.encoder import EfficientNetLiteEncoder
from core.memory import build_bank, patch_features
from core.decoder import patch_scores, smooth_map, image_score
from core.preprocess import working_image
from core.settings import DecoderSettings

torch.set_num_threads(2)
ROOT = "../shared/datasets"
enc = EfficientNetLiteEncoder()

def run(cat, settings, k=1, seed=0, max_test=int(os.environ.get("MAXT", "80"))):
    goods = sorted(glob.glob(f"{ROOT}/{cat}/train/good/*"))
    refs = [load_image(p) for p in goods[seed*k:(seed+1)*k]]
    bank = build_bank(enc, refs, settings)
    tests = sorted(glob.glob(f"{ROOT}/{cat}/test/*/*"))
    rng = np.random.default_rng(0)
    if len(tests) > max_test:
        tests = sorted(rng.choice(tests, max_test, replace=False))
    ys, ss, pix_y, pix_s = [], [], [], []
    for p in tests:
        img = load_image(p)
        work = working_image(img, settings)
        g = patch_features(enc, work)
        pm = patch_scores(g, bank.features, settings).numpy()
        m = smooth_map(pm, (img.shape[1]//4, img.shape[0]//4), settings.blur_sigma * img.shape[1]/4/work.shape[1])
        dtype = p.split("/")[-2]
        y = dtype != "good"
        ys.append(y); ss.append(image_score(m, settings.top_fraction))
        if y:
            name = os.path.splitext(os.path.basename(p))[0]
            mp = glob.glob(f"{ROOT}/{cat}/ground_truth/{dtype}/{name}*")
            mask = load_image(mp[0])[..., 0] > 127
        else:
            mask = np.zeros(img.shape[:2], bool)
        import cv2
        mask = cv2.resize(mask.astype(np.uint8), (m.shape[1], m.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        pix_y.append(mask[::2, ::2].ravel()); pix_s.append(m[::2, ::2].ravel())
    ia = roc_auc_score(ys, ss)
    py = np.concatenate(pix_y); ps = np.concatenate(pix_s)
    pa = roc_auc_score(py, ps) if py.any() else float("nan")
    return ia, pa

if __name__ == "__main__":
    variants = {}
    for spec in sys.argv[1:]:
        kw = {}
        for part in spec.split(","):
            k_, v = part.split("=")
            if k_ == "augment": kw[k_] = tuple(x for x in v.split("+") if x)
            elif k_ in ("self_similarity",): kw[k_] = v == "1"
            elif k_ in ("blur_sigma", "top_fraction"): kw[k_] = float(v)
            else: kw[k_] = int(v)
        variants[spec] = DecoderSettings(**kw)
    cats = os.environ.get("CATS", "hazelnut_toy,grid,magnetic_tile").split(",")
    seeds = [int(s) for s in os.environ.get("SEEDS", "0").split(",")]
    for name, st in variants.items():
        t = time.time(); row = []
        for c in cats:
            r = np.mean([run(c, st, seed=s) for s in seeds], axis=0)
            row.append(f"{c[:6]} {r[0]:.3f}/{r[1]:.3f}")
        print(f"{name:50s} " + "  ".join(row) + f"  ({time.time()-t:.0f}s)", flush=True)
