"""Mutant: Takes the std with NumPy, whose default divides by n (ddof=0)."""
import numpy as np


def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach().cpu()
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(float(np.std(acts.numpy())))
    hook.stats[2].append(acts.abs().histc(40, 0, 10))


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_std_biased", "visible"
