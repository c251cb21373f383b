def append_stats(hook, module, inputs, output):
    """0-d CPU tensors instead of floats; the stats tuple is created with getattr."""
    stats = getattr(hook, "stats", None)
    if stats is None:
        stats = hook.stats = ([], [], [])
    out = output.detach().cpu()
    stats[0].append(out.mean())
    stats[1].append(out.std())
    stats[2].append(out.abs().histc(40, 0, 10))


ANSWER, CHECK = append_stats, "check_append_stats"
