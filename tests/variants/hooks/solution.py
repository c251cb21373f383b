def append_stats(hook, module, inputs, output):
    """The lesson's solution: floats for mean and std, a CPU histogram of |output|."""
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach()
    means, stds, hists = hook.stats
    means.append(acts.mean().item())
    stds.append(acts.std().item())
    hists.append(acts.abs().histc(40, 0, 10).cpu())


ANSWER, CHECK = append_stats, "check_append_stats"
