from .deconv_upsample import DeconvUpsampleNeck

__all__ = ['DeconvUpsampleNeck']
