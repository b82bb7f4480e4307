"""RepMLPNet in PyTorch, written from docs/DESIGN.md (the model, exactly; Locality Injection),
as the peer of repmlp's own model: the golden tensors of the tests
(test/fixtures/gen_repmlpnet.py) and the PyTorch side of the benchmarks use it.
cfg: {"in", "classes", "patch", "blocks", "channels", "hs", "ws", "S", "ks", "reduce"}."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k, stride, padding, groups=1):
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(cout))
    return seq


def conv_bn_relu(cin, cout, k, stride, padding, groups=1):
    seq = conv_bn(cin, cout, k, stride, padding, groups)
    seq.add_module("relu", nn.ReLU())
    return seq


def fuse_bn(weight, bn):
    """(weight * gamma / sigma per output row, beta - mu * gamma / sigma), the BN's channels
    repeated over consecutive rows when the weight has more rows than the BN channels."""
    std = (bn.running_var + bn.eps).sqrt()
    t = bn.weight / std
    b = bn.bias - bn.running_mean * t
    rep = weight.shape[0] // t.numel()
    return weight * t.repeat_interleave(rep).reshape(-1, 1, 1, 1), b.repeat_interleave(rep)


class GlobalPerceptron(nn.Module):
    def __init__(self, C, internal):
        super().__init__()
        self.fc1 = nn.Conv2d(C, internal, 1, 1, bias=True)
        self.fc2 = nn.Conv2d(internal, C, 1, 1, bias=True)
        self.C = C

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, 1)
        x = torch.sigmoid(self.fc2(F.relu(self.fc1(x))))
        return x.view(-1, self.C, 1, 1)


class RepMLPBlock(nn.Module):
    def __init__(self, C, h, w, ks, reduce, S, deploy):
        super().__init__()
        self.C, self.S, self.h, self.w, self.ks, self.deploy = C, S, h, w, ks, deploy
        self.gp = GlobalPerceptron(C, C // reduce)
        self.fc3 = nn.Conv2d(S * h * w, S * h * w, 1, 1, 0, bias=deploy, groups=S)
        if not deploy:
            self.fc3_bn = nn.BatchNorm2d(S)
            for k in ks:
                setattr(self, f"repconv{k}", conv_bn(S, S, k, 1, k // 2, groups=S))

    def forward(self, x):
        g = self.gp(x)
        N, C, H, W = x.shape
        hp, wp = H // self.h, W // self.w
        # (N, C, hp, h, wp, w) -> (N, hp, wp, C, h, w)
        parts = x.reshape(N, C, hp, self.h, wp, self.w).permute(0, 2, 4, 1, 3, 5)
        out = self.fc3(parts.reshape(-1, self.S * self.h * self.w, 1, 1)).reshape(-1, self.S, self.h, self.w)
        if not self.deploy:
            out = self.fc3_bn(out)
            conv_in = parts.reshape(-1, self.S, self.h, self.w)
            for k in self.ks:
                out = out + getattr(self, f"repconv{k}")(conv_in)
        out = out.reshape(N, hp, wp, C, self.h, self.w).permute(0, 3, 1, 4, 2, 5).reshape(N, C, H, W)
        return out * g

    def equivalent_fc3(self):
        """Locality Injection (docs/DESIGN.md): the deploy-form fc3 weight and bias."""
        hw = self.h * self.w
        w, b = fuse_bn(self.fc3.weight, self.fc3_bn)
        if not self.ks:  # no Local Perceptron: only fc3_bn to fold
            return w, b
        K = max(self.ks)
        kernel = torch.zeros(self.S, 1, K, K)
        kbias = torch.zeros(self.S)
        for k in self.ks:
            br = getattr(self, f"repconv{k}")
            kk, kb = fuse_bn(br.conv.weight, br.bn)
            kernel = kernel + F.pad(kk, [(K - k) // 2] * 4)
            kbias = kbias + kb
        eye = torch.eye(hw).repeat(1, self.S).reshape(hw, self.S, self.h, self.w)
        fc = F.conv2d(eye, kernel, padding=K // 2, groups=self.S).reshape(hw, self.S * hw).t()
        return w + fc.reshape_as(w), b + kbias.repeat_interleave(hw)


class FFNBlock(nn.Module):
    def __init__(self, C, hidden):
        super().__init__()
        self.ffn_fc1 = conv_bn(C, hidden, 1, 1, 0)
        self.ffn_fc2 = conv_bn(hidden, C, 1, 1, 0)

    def forward(self, x):
        return self.ffn_fc2(F.gelu(self.ffn_fc1(x)))


class RepMLPNetUnit(nn.Module):
    def __init__(self, C, h, w, ks, reduce, S, deploy):
        super().__init__()
        self.repmlp_block = RepMLPBlock(C, h, w, ks, reduce, S, deploy)
        self.ffn_block = FFNBlock(C, 4 * C)
        self.prebn1 = nn.BatchNorm2d(C)
        self.prebn2 = nn.BatchNorm2d(C)

    def forward(self, x):
        y = x + self.repmlp_block(self.prebn1(x))
        return y + self.ffn_block(self.prebn2(y))


class RepMLPNet(nn.Module):
    def __init__(self, cfg, deploy=False):
        super().__init__()
        ch = cfg["channels"]
        p = cfg["patch"]
        self.conv_embedding = conv_bn_relu(cfg["in"], ch[0], p, p, 0)
        self.stages = nn.ModuleList()
        self.embeds = nn.ModuleList()
        n = len(cfg["blocks"])
        for i in range(n):
            self.stages.append(nn.ModuleList([
                RepMLPNetUnit(ch[i], cfg["hs"][i], cfg["ws"][i], cfg["ks"], cfg["reduce"], cfg["S"][i], deploy)
                for _ in range(cfg["blocks"][i])]))
            if i < n - 1:
                self.embeds.append(conv_bn_relu(ch[i], ch[i + 1], 2, 2, 0))
        self.head_norm = nn.BatchNorm2d(ch[-1])
        self.head = nn.Linear(ch[-1], cfg["classes"])

    def forward(self, x):
        x = self.conv_embedding(x)
        for i, stage in enumerate(self.stages):
            for unit in stage:
                x = unit(x)
            if i < len(self.stages) - 1:
                x = self.embeds[i](x)
        x = F.adaptive_avg_pool2d(self.head_norm(x), 1).flatten(1)
        return self.head(x)


def deploy_state(model):
    """The deploy-form state dict: every block's fc3 replaced by its equivalent, fc3_bn and
    repconv* dropped."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for name, mod in model.named_modules():
        if isinstance(mod, RepMLPBlock):
            w, b = mod.equivalent_fc3()
            for k in list(sd):
                if k.startswith(f"{name}.fc3_bn.") or k.startswith(f"{name}.repconv"):
                    del sd[k]
            sd[f"{name}.fc3.weight"] = w.detach()
            sd[f"{name}.fc3.bias"] = b.detach()
    return sd
