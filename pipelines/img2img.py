"""img2img and inpaint on the latent side, step for step as diffusers' ControlNet img2img and inpaint pipelines:
where the sampler starts, what it starts from, and (inpaint) the unmasked latents put back after every step."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipelines.canvas import Canvas


@dataclass
class InitLatents:
    """The picture in latent space: the VAE's distribution (mean and std, one shared picture or one per row), which
    each row samples with its own generator as diffusers does per generator; or latents taken as they are (hires
    fix's latent upscale). With inpaint, the latent mask (1 = repaint)."""

    strength: float
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None
    scaling: float = 1.0
    latents: torch.Tensor | None = None
    mask: torch.Tensor | None = None  # (1, 1, h/8, w/8)
    content: str = "original"  # A1111's masked content: the latent modes change the masked latents

    def sample(self, row: int, generator, shape, device, dtype) -> torch.Tensor:
        """Row `row`'s picture latents: what `DiagonalGaussianDistribution.sample(generator)` draws, scaled."""
        from diffusers.utils.torch_utils import randn_tensor

        if self.latents is not None:
            return self.latents[row:row + 1]
        pick = slice(0, 1) if len(self.mean) == 1 else slice(row, row + 1)
        noise = randn_tensor((1, *self.mean.shape[1:]), generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return ((self.mean[pick] + self.std[pick] * noise) * self.scaling).to(dtype)


def encode_pictures(vae, pictures: list, strength: float, device, dtype) -> InitLatents:
    """Pictures (one shared, or one per row) encoded once; each row samples its own."""
    from diffusers.image_processor import VaeImageProcessor

    pixels = VaeImageProcessor(vae_scale_factor=8).preprocess(pictures, height=pictures[0].height, width=pictures[0].width)
    with torch.inference_mode():
        dist = vae.encode(pixels.to(device, vae.dtype)).latent_dist
    return InitLatents(strength, mean=dist.mean, std=dist.std, scaling=vae.config.scaling_factor)


def encode_canvas(vae, canvas: Canvas, strength: float, content: str, device, dtype) -> InitLatents:
    """Encode the working picture once for every row; the mask is binarised at full size, then taken to the latent
    size by nearest neighbour (diffusers' mask processor and prepare_mask_latents)."""
    from diffusers.image_processor import VaeImageProcessor

    init = encode_pictures(vae, [canvas.image], strength, device, dtype)
    init.content = content
    if canvas.mask is not None:
        height, width = canvas.image.height, canvas.image.width
        processor = VaeImageProcessor(vae_scale_factor=8, do_normalize=False, do_binarize=True, do_convert_grayscale=True)
        full = processor.preprocess(canvas.mask, height=height, width=width)
        init.mask = torch.nn.functional.interpolate(full, size=(height // 8, width // 8)).to(device, dtype)
    return init


def first_step(scheduler, steps: int, strength: float) -> int:
    """A1111's and diffusers' rule: strength s of N steps runs the last int(N * s) of them (0.6 of 20: the last 12);
    the scheduler is told where it begins."""
    begin = (steps - min(int(steps * strength), steps)) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(begin)
    return begin


@dataclass
class Start:
    """The latents the sampler starts from, and what inpaint puts back after each step."""

    latents: torch.Tensor
    picture: torch.Tensor | None = None  # the rows' sampled picture latents
    noise: torch.Tensor | None = None


def start_latents(init: InitLatents | None, scheduler, timesteps, generators, seeds, shape, device, dtype) -> Start:
    """txt2img: noise x the first sigma. img2img: the picture noised to the first step's level (strength 0: the
    picture itself; strength 1: pure noise, so it equals txt2img with that seed). Per row, the generator gives the
    picture's sample first, then the noise; inpaint draws once more where diffusers samples the masked picture's
    latents (a 4-channel UNet never reads them), so every sampler's later draws match."""
    from diffusers.utils.torch_utils import randn_tensor

    count = len(generators)
    pure = init is None or init.strength >= 1.0
    if pure and (init is None or init.mask is None):
        noise = randn_tensor((count, *shape), generator=generators, device=device, dtype=dtype)
        return Start(noise * scheduler.init_noise_sigma)
    pictures, noises = [], []
    for row, generator in enumerate(generators):
        pictures.append(init.sample(row, generator, shape, device, dtype))
        noises.append(randn_tensor((1, *shape), generator=generator, device=device, dtype=dtype))
        if init.mask is not None:
            randn_tensor((1, *shape), generator=generator, device=device, dtype=dtype)
    picture, noise = torch.cat(pictures), torch.cat(noises)
    if init.mask is not None and init.content in ("latent noise", "latent nothing"):
        picture = picture * (1 - init.mask)
        if init.content == "latent noise":  # A1111 fills the masked latents with the seed's own noise
            fresh = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
            picture = picture + init.mask * randn_tensor((count, *shape), generator=fresh, device=device, dtype=dtype)
    if pure:
        latents = noise * scheduler.init_noise_sigma
    elif len(timesteps) == 0:
        latents = picture
    else:
        latents = scheduler.add_noise(picture, noise, timesteps[:1].repeat(count))
    return Start(latents, picture, noise)


def keep_unmasked(init: InitLatents | None, start: Start, scheduler, latents: torch.Tensor, timesteps, step: int) -> torch.Tensor:
    """After step `step`, the unmasked latents become the picture's again, noised to the next step's level (none
    after the last)."""
    if init is None or init.mask is None:
        return latents
    picture = start.picture
    if step < len(timesteps) - 1:
        picture = scheduler.add_noise(picture, start.noise, torch.tensor([timesteps[step + 1]]))
    return (1 - init.mask) * picture + init.mask * latents
