"""lerp_ on the parameters, buffers copied by name through state_dict-like dicts."""

import torch

CHECK = "check_ema_update"


@torch.no_grad()
def ema_update(target, source, rate):
    src = dict(source.named_parameters())
    for name, p in target.named_parameters():
        p.lerp_(src[name], rate)
    src_buffers = dict(source.named_buffers())
    for name, b in target.named_buffers():
        b.copy_(src_buffers[name])
    return target


ANSWER = ema_update
