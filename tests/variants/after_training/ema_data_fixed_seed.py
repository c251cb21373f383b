"""The seed's update_target through .data, with the buffers added."""

CHECK = "check_ema_update"


def ema_update(target, source, rate):
    for tp, sp in zip(target.parameters(), source.parameters()):
        tp.data.copy_((1.0 - rate) * tp.data + rate * sp.data)
    for tb, sb in zip(target.buffers(), source.buffers()):
        tb.data.copy_(sb.data)


ANSWER = ema_update
