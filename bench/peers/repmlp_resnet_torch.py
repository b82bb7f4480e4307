"""RepMLP (Ding et al. 2021, arXiv 2105.01883) and RepMLP-ResNet in PyTorch, written from
docs/MODELS.md ("RepMLP-ResNet") as the peer of repmlp's own models: the golden tensors of the
tests (test/fixtures/gen_repmlp_resnet.py) use it. Module names are the reference code's, so
state dicts move between the two. The deploy conversion takes the FC matrix of the merged conv
kernel from the Jacobian of the conv on one partition (not from an identity conv, as repmlp
does), so the two conversions check each other.
cfg: the fields of repmlp's RepMLPResNetConfig (numBlocks, numClasses, blockType, imgH, imgW,
h, w, reparamConvK, fc1Fc2Reduction, fc3Groups, bottleneckR, stemChannels, channels, inChannels)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def bn_affine(bn):
    """The BN as y = x * scale + shift (eval mode)."""
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    return scale, bn.bias - bn.running_mean * scale


class ConvBN(nn.Module):
    """conv (no bias) + bn [+ ReLU]; after fuse(): conv with a bias."""

    def __init__(self, cin, cout, k, stride=1, padding=0, groups=1, relu=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        y = self.conv(x)
        if hasattr(self, "bn"):
            y = self.bn(y)
        return F.relu(y) if self.relu else y

    def fused(self):
        scale, shift = bn_affine(self.bn)
        return self.conv.weight * scale.reshape(-1, 1, 1, 1), shift

    def fuse(self):
        w, b = self.fused()
        c = self.conv
        conv = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, groups=c.groups, bias=True)
        conv.weight.data, conv.bias.data = w.detach(), b.detach()
        del self.bn
        self.conv = conv


class RepMLP(nn.Module):
    def __init__(self, C, O, H, W, h, w, ks, reduction=1, groups=1, global_perceptron=None):
        super().__init__()
        self.C, self.O, self.H, self.W, self.h, self.w, self.g, self.ks = C, O, H, W, h, w, groups, list(ks)
        self.hp, self.wp = H // h, W // w
        # a Global Perceptron where the map has more than one partition, unless told (Table 1's no-global ablation)
        self.gp = self.hp * self.wp > 1 if global_perceptron is None else global_perceptron
        if self.gp:
            F_ = C * self.hp * self.wp
            self.fc1_fc2 = nn.Sequential()
            self.fc1_fc2.add_module("fc1", nn.Linear(F_, F_ // reduction))
            self.fc1_fc2.add_module("relu", nn.ReLU())
            self.fc1_fc2.add_module("fc2", nn.Linear(F_ // reduction, F_))
            self.avg = nn.Sequential()
            self.avg.add_module("avg", nn.AvgPool2d((h, w)))
            self.avg.add_module("bn", nn.BatchNorm2d(C))
        self.fc3 = nn.Conv2d(C * h * w, O * h * w, 1, groups=groups, bias=False)
        self.fc3_bn = nn.BatchNorm1d(O * h * w)
        for k in self.ks:
            self.add_module(f"repconv{k}", ConvBN(C, O, k, padding=k // 2, groups=groups))
        self.deployed = False

    def forward(self, x):
        N, C, hp, wp, h, w = x.shape[0], self.C, self.hp, self.wp, self.h, self.w
        if self.gp:
            v = self.fc1_fc2(self.avg(x).flatten(1)).reshape(N, C, hp, 1, wp, 1)
            x = (x.reshape(N, C, hp, h, wp, w) + v).reshape(N, C, self.H, self.W)
        parts = x.reshape(N, C, hp, h, wp, w).permute(0, 2, 4, 1, 3, 5).reshape(-1, C, h, w)
        y = self.fc3(parts.reshape(-1, C * h * w, 1, 1)).flatten(1)
        if not self.deployed:
            y = self.fc3_bn(y)
        y = y.reshape(-1, self.O, h, w)
        if not self.deployed:
            for k in self.ks:
                y = y + getattr(self, f"repconv{k}")(parts)
        return y.reshape(N, hp, wp, self.O, h, w).permute(0, 3, 1, 4, 2, 5).reshape(N, self.O, self.H, self.W)

    def conv_fc(self, kernel):
        """The FC weight (O*hw, C*hw/g) of a grouped conv on one partition: blocks of its Jacobian."""
        C, O, h, w, g = self.C, self.O, self.h, self.w, self.g
        f = lambda p: F.conv2d(p.reshape(1, C, h, w), kernel, padding=kernel.shape[2] // 2, groups=g).flatten()
        J = torch.autograd.functional.jacobian(f, torch.zeros(C * h * w, dtype=kernel.dtype))
        ro, ci = O * h * w // g, C * h * w // g
        return torch.cat([J[i * ro:(i + 1) * ro, i * ci:(i + 1) * ci] for i in range(g)])

    def fuse(self):
        hw = self.h * self.w
        scale, shift = bn_affine(self.fc3_bn)
        weight = self.fc3.weight.flatten(1) * scale[:, None]
        bias = shift
        if self.ks:
            K = max(self.ks)
            kernel, kbias = 0, 0
            for k in self.ks:
                kw, kb = getattr(self, f"repconv{k}").fused()
                kernel = kernel + F.pad(kw, [(K - k) // 2] * 4)
                kbias = kbias + kb
                delattr(self, f"repconv{k}")
            weight = weight + self.conv_fc(kernel)
            bias = bias + kbias.repeat_interleave(hw)
        del self.fc3_bn
        self.fc3 = nn.Conv2d(self.C * hw, self.O * hw, 1, groups=self.g, bias=True)
        self.fc3.weight.data, self.fc3.bias.data = weight.reshape(self.fc3.weight.shape).detach(), bias.detach()
        if self.gp:
            scale, shift = bn_affine(self.avg.bn)
            rep = self.hp * self.wp
            fc1 = self.fc1_fc2.fc1
            fc1.bias.data = (fc1.bias + fc1.weight @ shift.repeat_interleave(rep)).detach()
            fc1.weight.data = (fc1.weight * scale.repeat_interleave(rep)[None, :]).detach()
            self.avg = nn.AvgPool2d((self.h, self.w))
        self.deployed = True


class Block(nn.Module):
    """Residual block: the body's last ConvBN plus the shortcut, then ReLU."""

    def forward(self, x):
        s = self.shortcut(x) if hasattr(self, "shortcut") else x
        return F.relu(self.body(x) + s)


class BaseBlock(Block):
    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        if cin != cout or stride != 1:
            self.shortcut = ConvBN(cin, cout, 1, stride)
        self.conv1 = ConvBN(cin, mid, 1, relu=True)
        self.conv2 = ConvBN(mid, mid, 3, stride, 1, relu=True)
        self.conv3 = ConvBN(mid, cout, 1)

    def body(self, x):
        return self.conv3(self.conv2(self.conv1(x)))


class LightBlock(Block):
    def __init__(self, cin, mid, cout, rep):
        super().__init__()
        if cin != cout:
            self.shortcut = ConvBN(cin, cout, 1)
        self.light_conv1 = ConvBN(cin, mid, 1, relu=True)
        self.light_repmlp = RepMLP(mid, mid, **rep)
        self.light_conv3 = ConvBN(mid, cout, 1)

    def body(self, x):
        return self.light_conv3(F.relu(self.light_repmlp(self.light_conv1(x))))


class BottleneckBlock(Block):
    def __init__(self, cin, mid, cout, r, rep):
        super().__init__()
        if cin != cout:
            self.shortcut = ConvBN(cin, cout, 1)
        c = mid // r
        self.btnk_conv1 = ConvBN(cin, mid, 1, relu=True)
        self.btnk_conv2 = ConvBN(mid, c, 3, 1, 1, relu=True)
        self.btnk_repmlp = RepMLP(c, c, **rep)
        self.btnk_conv4 = ConvBN(c, mid, 3, 1, 1, relu=True)
        self.btnk_conv5 = ConvBN(mid, cout, 1)

    def body(self, x):
        y = self.btnk_conv2(self.btnk_conv1(x))
        return self.btnk_conv5(self.btnk_conv4(F.relu(self.btnk_repmlp(y))))


class RepMLPResNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        stem, channels = cfg.get("stemChannels", 64), cfg.get("channels", [256, 512, 1024, 2048])
        rs = cfg.get("bottleneckR", [2, 4])
        self.stage0 = nn.Sequential(ConvBN(cfg.get("inChannels", 3), stem, 7, 2, 3, relu=True), nn.MaxPool2d(3, 2, 1))
        cin = stem
        for i, (n, C) in enumerate(zip(cfg["numBlocks"], channels)):
            ratio = 4 * 2 ** i
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                rep = dict(H=cfg["imgH"] // ratio, W=cfg["imgW"] // ratio, h=cfg["h"], w=cfg["w"], ks=cfg["reparamConvK"],
                           reduction=cfg["fc1Fc2Reduction"], groups=cfg["fc3Groups"])
                kind = "base" if cfg["blockType"] == "base" or stride == 2 or ratio not in (8, 16) else cfg["blockType"]
                if kind == "light":
                    blocks.append(LightBlock(cin, C // 8, C, rep))
                elif kind == "bottleneck":
                    blocks.append(BottleneckBlock(cin, C // 4, C, rs[0] if ratio == 8 else rs[1], rep))
                else:
                    blocks.append(BaseBlock(cin, C // 4, C, stride))
                cin = C
            self.add_module(f"stage{i + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(channels[3], cfg["numClasses"])

    def forward(self, x):
        for i in range(5):
            x = getattr(self, f"stage{i}")(x)
        return self.linear(x.mean((2, 3)))


def to_deploy(model):
    """Every RepMLP converted, then every ConvBN left with a BN fused (in place)."""
    for m in list(model.modules()):
        if isinstance(m, RepMLP):
            m.fuse()
    for m in list(model.modules()):
        if isinstance(m, ConvBN) and hasattr(m, "bn"):
            m.fuse()
    return model
