# References: ViTAE-Transformer/ViTPose configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/ViTPose_*_coco_256x192.py
# and vitPose+_*_coco+aic+mpii+ap10k+apt36k+wholebody_256x192_udp.py (the 0.x layout read here); mmpose 1.x's
# td-hm_ViTPose-*_8xb64-210e_coco-256x192.py and this package's configs/ (the layout written).
"""Official ViTPose (mmpose 0.x) config -> an mmpose 1.x config for this package: model, data, schedule, optimizer.

Every top-level key and every field inside model, data, pipelines, schedule and optimizer is either converted or
reported in ``dropped`` with the reason; nothing is dropped silently. Unsupported values that would change the
model (another model or backbone type, a target type other than Gaussian heatmaps, an lr policy other than step or
cosine) are errors naming the key and the accepted values.
"""
import copy
from typing import Any, Dict, List, Tuple

MODEL_TYPES = ('TopDown', 'TopDownMoE')
BACKBONE_TYPES = ('ViT', 'ViTMoE')
DATASET_TYPES = {'TopDownCocoDataset': 'CocoDataset', 'TopDownAicDataset': 'AicDataset',
                 'TopDownMpiiDataset': 'MpiiDataset', 'AnimalAP10KDataset': 'AP10KDataset',
                 'TopDownCocoWholeBodyDataset': 'CocoWholeBodyDataset', 'TopDownCrowdPoseDataset': 'CrowdPoseDataset'}
METRICS = {'CocoDataset': 'CocoMetric', 'AicDataset': 'CocoMetric', 'AP10KDataset': 'CocoMetric',
           'CrowdPoseDataset': 'CocoMetric', 'CocoWholeBodyDataset': 'CocoWholeBodyMetric',
           'MpiiDataset': 'MpiiPCKAccuracy'}
LR_POLICIES = ('step', 'CosineAnnealing')
# Helper variables of the official configs, read wherever the config refers to them (their values are inlined).
HELPERS = ('target_type', 'data_root')
HELPER_SUFFIXES = ('channel_cfg', 'data_cfg', 'pipeline', 'data_root')
# Fields of data_cfg that the converter reads (image/heatmap size: the codec; the rest: dataset or evaluator).
DATA_CFG_READ = ('image_size', 'heatmap_size', 'num_output_channels', 'num_joints', 'dataset_channel',
                 'inference_channel', 'use_gt_bbox', 'bbox_file', 'det_bbox_thr', 'soft_nms', 'oks_thr', 'vis_thr')


def convert_official_config(ns: Dict[str, Any]) -> Tuple[Dict[str, Any], List[str]]:
    """Convert the variables of an official config (``read_official_config``).

    Returns:
        The mmpose 1.x config as a dict, and the list of what was not converted, each ``'<key>: <reason>'``.

    Raises:
        ValueError: a model, backbone, head, target type or lr policy this package cannot express.
    """
    return _Converter(ns).run()


class _Converter:

    def __init__(self, ns: Dict[str, Any]) -> None:
        self.ns = copy.deepcopy(ns)
        self.dropped: List[str] = []
        self.used = {'_base_'}

    def take(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.ns.get(key, default)

    def drop(self, key: str, reason: str) -> None:
        self.dropped.append(f'{key}: {reason}')

    def run(self) -> Tuple[Dict[str, Any], List[str]]:
        if '_base_' in self.ns:
            self.drop('_base_', 'not read: its runtime defaults are replaced by an mmpose 1.x runtime here, and its '
                      "dataset_info by the mmpose 1.x dataset's built-in metainfo")
        model = dict(self.take('model'))
        data = dict(self.take('data'))
        train_set = self._first_dataset(data.get('train'))
        codec = self._codec(model.get('test_cfg', {}), train_set.get('data_cfg', {}), train_set.get('pipeline'))
        cfg: Dict[str, Any] = dict(custom_imports=dict(imports=['vitpose_mm'], allow_failed_imports=False),
                                   default_scope='mmpose', runner_type='ViTPoseRunner')
        cfg.update(self._schedule())
        cfg['model'] = self._model(model, codec, dict(data.get('val') or {}).get('pipeline'))
        cfg.update(self._data(data, codec))
        cfg.update(self._runtime())
        for key in sorted(set(self.ns) - self.used):
            if key in HELPERS or key.endswith(HELPER_SUFFIXES):
                continue  # inlined where the config used it; the other datasets' ones are reported with them
            self.drop(key, 'no mmpose 1.x equivalent in this converter')
        return cfg, self.dropped

    # ---- model ---------------------------------------------------------------------------------------------
    def _codec(self, test_cfg: dict, data_cfg: dict, train_pipeline: list) -> dict:
        target_type = test_cfg.get('target_type', 'GaussianHeatmap')
        if target_type != 'GaussianHeatmap':
            raise ValueError(f"model.test_cfg.target_type={target_type!r}: only 'GaussianHeatmap' is supported")
        target = next((t for t in train_pipeline or () if t['type'] == 'TopDownGenerateTarget'), {})
        size = dict(input_size=tuple(data_cfg['image_size']), heatmap_size=tuple(data_cfg['heatmap_size']),
                    sigma=target.get('sigma', 2))
        if target.get('encoding') == 'UDP' or test_cfg.get('use_udp', False):
            return dict(type='UDPHeatmap', **size)
        unbiased = test_cfg.get('post_process') == 'unbiased'
        codec = dict(type='MSRAHeatmap', **size, unbiased=unbiased)
        if unbiased:
            codec['blur_kernel_size'] = test_cfg.get('modulate_kernel', 11)
        return codec

    def _model(self, model: dict, codec: dict, val_pipeline: list) -> dict:
        mtype = model.pop('type')
        if mtype not in MODEL_TYPES:
            raise ValueError(f'model.type={mtype!r} is not a ViTPose top-down model; accepted: {list(MODEL_TYPES)}')
        backbone = dict(model.pop('backbone'))
        btype = backbone.pop('type')
        if btype not in BACKBONE_TYPES:
            raise ValueError(f'model.backbone.type={btype!r}; accepted: {list(BACKBONE_TYPES)}')
        pretrained = model.pop('pretrained', None) or backbone.pop('pretrained', None)
        if pretrained:
            backbone['init_cfg'] = dict(type='ViTPosePretrained', checkpoint=pretrained)
        head = self._head(model.pop('keypoint_head'), codec, 'model.keypoint_head')
        for i, other in enumerate(model.pop('associate_keypoint_head', None) or ()):
            self.drop(f'model.associate_keypoint_head[{i}] ({other.get("out_channels")} keypoints)',
                      'a per-dataset head of ViTPose+ multi-dataset training; the converted config trains and '
                      'evaluates the first dataset with model.keypoint_head (the backbone keeps all experts)')
        if model.pop('train_cfg', None):
            self.drop('model.train_cfg', 'mmpose 1.x heads take no training options here')
        test_cfg = dict(model.pop('test_cfg', None) or {})
        new_test_cfg = dict(flip_test=test_cfg.pop('flip_test', False), flip_mode='heatmap',
                            shift_heatmap=test_cfg.pop('shift_heatmap', False))
        for key in ('target_type', 'use_udp'):
            test_cfg.pop(key, None)  # read into the codec
        if test_cfg.pop('post_process', 'default') not in ('default', 'unbiased'):
            self.drop('model.test_cfg.post_process', "only 'default' and 'unbiased' (DARK) decoding are converted")
        kernel = test_cfg.pop('modulate_kernel', None)
        if kernel is not None and 'blur_kernel_size' not in codec:
            self.drop('model.test_cfg.modulate_kernel', "used only by 'unbiased' (DARK) decoding, not by "
                      f"{codec['type']}")
        for key in test_cfg:
            self.drop(f'model.test_cfg.{key}', 'no mmpose 1.x equivalent in this converter')
        for key in model:
            self.drop(f'model.{key}', 'no mmpose 1.x equivalent in this converter')
        # mmpose's TopdownPoseEstimator with the package's opt-in one-batch flip test (test_cfg.batch_flip)
        return dict(type='BatchFlipTopdownPoseEstimator', data_preprocessor=self._preprocessor(val_pipeline),
                    backbone=dict(type='ViT', **backbone), head=head, test_cfg=new_test_cfg)

    def _head(self, head: dict, codec: dict, where: str) -> dict:
        head = dict(head)
        if head.pop('type') != 'TopdownHeatmapSimpleHead':
            raise ValueError(f"{where}.type must be 'TopdownHeatmapSimpleHead'")
        out = dict(type='TopdownHeatmapSimpleHead', in_channels=head.pop('in_channels'),
                   out_channels=head.pop('out_channels'))
        layers = head.pop('num_deconv_layers', 3)
        filters = tuple(head.pop('num_deconv_filters', (256, 256, 256)))
        kernels = tuple(head.pop('num_deconv_kernels', (4, 4, 4)))
        out['deconv_out_channels'] = filters[:layers] if layers else None
        out['deconv_kernel_sizes'] = kernels[:layers] if layers else None
        extra = dict(head.pop('extra', None) or {})
        num_convs = extra.pop('num_conv_layers', 0)
        if num_convs:
            channels = filters[layers - 1] if layers else out['in_channels']
            out['conv_out_channels'] = (channels, ) * num_convs
            out['conv_kernel_sizes'] = tuple(extra.pop('num_conv_kernels', (1, ) * num_convs))
        kernel = extra.pop('final_conv_kernel', 1)
        out['final_layer'] = dict(kernel_size=kernel, padding=kernel // 2) if kernel else None
        for key in extra:
            self.drop(f'{where}.extra.{key}', 'unknown to the official head')
        if head.get('upsample'):
            out['upsample'] = head.pop('upsample')
        head.pop('upsample', None)
        if head.get('align_corners'):
            out['align_corners'] = head.pop('align_corners')
        head.pop('align_corners', None)
        if head.pop('in_index', 0) not in (0, -1):
            self.drop(f'{where}.in_index', 'ViT gives one feature map; the head takes it')
        if head.pop('input_transform', None) is not None:
            self.drop(f'{where}.input_transform', 'ViT gives one feature map')
        loss = dict(head.pop('loss_keypoint', None) or dict(type='JointsMSELoss', use_target_weight=True))
        if loss['type'] == 'JointsMSELoss':
            loss['type'] = 'KeypointMSELoss'  # mmpose 1.x's name of the same loss
        out['loss'] = loss
        out['decoder'] = codec
        for key in head:
            self.drop(f'{where}.{key}', 'not an argument of the official head')
        return out

    def _preprocessor(self, val_pipeline: list) -> dict:
        norm = next((t for t in val_pipeline or () if t['type'] == 'NormalizeTensor'), None)
        mean, std = (norm['mean'], norm['std']) if norm else ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        # 0.x normalises RGB images in [0, 1]; mmpose 1.x loads BGR in [0, 255] and converts in the preprocessor
        return dict(type='PoseDataPreprocessor', mean=[round(m * 255, 3) for m in mean],
                    std=[round(s * 255, 3) for s in std], bgr_to_rgb=True)

    # ---- schedule and optimizer --------------------------------------------------------------------------
    def _schedule(self) -> Dict[str, Any]:
        epochs = self.take('total_epochs')
        evaluation = dict(self.take('evaluation', None) or {})
        self.val_interval = evaluation.pop('interval', 1)
        self.save_best = evaluation.pop('save_best', None)
        evaluation.pop('metric', None)  # the metric follows the dataset (see _evaluator)
        for key in evaluation:
            self.drop(f'evaluation.{key}', 'no mmpose 1.x equivalent in this converter')
        lr = dict(self.take('lr_config'))
        policy = lr.pop('policy')
        if policy not in LR_POLICIES:
            raise ValueError(f'lr_config.policy={policy!r}; accepted: {list(LR_POLICIES)}')
        schedulers = []
        if lr.pop('warmup', None) == 'linear':
            iters, by_epoch = lr.pop('warmup_iters', 0), lr.pop('warmup_by_epoch', False)
            schedulers.append(dict(type='LinearLR', begin=0, end=iters, start_factor=lr.pop('warmup_ratio', 0.1),
                                   by_epoch=by_epoch))
        if policy == 'step':
            step = lr.pop('step')
            schedulers.append(dict(type='MultiStepLR', begin=0, end=epochs, by_epoch=True,
                                   milestones=list(step) if isinstance(step, (list, tuple)) else [step],
                                   gamma=lr.pop('gamma', 0.1)))
        else:
            schedulers.append(dict(type='CosineAnnealingLR', begin=0, end=epochs, T_max=epochs, by_epoch=True,
                                   eta_min=lr.pop('min_lr', 0.0)))
        for key in lr:
            self.drop(f'lr_config.{key}', 'no mmpose 1.x equivalent in this converter')
        return dict(train_cfg=dict(by_epoch=True, max_epochs=epochs, val_interval=self.val_interval),
                    val_cfg=dict(), test_cfg=dict(), optim_wrapper=self._optim_wrapper(),
                    param_scheduler=schedulers)

    def _optim_wrapper(self) -> dict:
        optimizer = dict(self.take('optimizer'))
        constructor = optimizer.pop('constructor', None)
        paramwise = dict(optimizer.pop('paramwise_cfg', None) or {})
        wrapper: Dict[str, Any] = dict(optimizer=optimizer)
        if constructor == 'LayerDecayOptimizerConstructor':
            wrapper['constructor'] = 'ViTPoseLayerDecayOptimWrapperConstructor'
            wrapper['paramwise_cfg'] = dict(num_layers=paramwise.pop('num_layers'),
                                            layer_decay_rate=paramwise.pop('layer_decay_rate'))
            if paramwise.pop('custom_keys', None):
                self.drop('optimizer.paramwise_cfg.custom_keys', 'read by no official code (note the key '
                          "'decay_multi'); the layer-decay constructor gives 1-D parameters and pos_embed no "
                          'weight decay, as the official constructor does')
        elif constructor is not None:
            raise ValueError(f"optimizer.constructor={constructor!r}; accepted: ['LayerDecayOptimizerConstructor'] "
                             'or none')
        for key in paramwise:
            self.drop(f'optimizer.paramwise_cfg.{key}', 'no equivalent in the layer-decay constructor')
        hook = dict(self.take('optimizer_config', None) or {})
        if hook.get('grad_clip'):
            wrapper['clip_grad'] = hook.pop('grad_clip')
        hook.pop('grad_clip', None)
        for key in hook:
            self.drop(f'optimizer_config.{key}', 'optimizer hooks are not converted (mixed precision: --amp)')
        return wrapper

    # ---- data --------------------------------------------------------------------------------------------
    def _first_dataset(self, train: Any) -> dict:
        if isinstance(train, (list, tuple)):
            return train[0]
        return train or {}

    def _data(self, data: dict, codec: dict) -> Dict[str, Any]:
        batch = data.pop('samples_per_gpu')
        workers = data.pop('workers_per_gpu', 2)
        val_batch = dict(data.pop('val_dataloader', None) or {}).get('samples_per_gpu', batch)
        test_batch = dict(data.pop('test_dataloader', None) or {}).get('samples_per_gpu', val_batch)
        train = data.pop('train')
        if isinstance(train, (list, tuple)):
            for i, other in enumerate(train[1:], start=1):
                self.drop(f'data.train[{i}] ({other["type"]}, {other.get("ann_file")})',
                          'multi-dataset training (ViTPose+) is not converted: the config trains on data.train[0]')
            train = train[0]
        train_set = self._dataset(train, codec, 'data.train')
        val_set = self._dataset(data.pop('val'), codec, 'data.val')
        test_set = self._dataset(data.pop('test'), codec, 'data.test')
        for key in data:
            self.drop(f'data.{key}', 'no mmpose 1.x equivalent in this converter')
        loader = dict(num_workers=workers, persistent_workers=True)
        val_loader = dict(loader, batch_size=val_batch, drop_last=False,
                          sampler=dict(type='DefaultSampler', shuffle=False, round_up=False))
        self.val_data_cfg = val_set.pop('_data_cfg')
        test_set.pop('_data_cfg')
        train_set.pop('_data_cfg')
        out = dict(dataset_type=train_set['type'], data_mode='topdown',
                   train_dataloader=dict(loader, batch_size=batch, sampler=dict(type='DefaultSampler', shuffle=True),
                                         dataset=train_set),
                   val_dataloader=dict(val_loader, dataset=val_set),
                   test_dataloader=dict(val_loader, batch_size=test_batch, dataset=test_set))
        out['val_evaluator'] = out['test_evaluator'] = self._evaluator(val_set)
        return out

    def _dataset(self, ds: dict, codec: dict, where: str) -> dict:
        ds = dict(ds)
        dtype = ds.pop('type')
        if dtype not in DATASET_TYPES:
            raise ValueError(f'{where}.type={dtype!r}; accepted: {list(DATASET_TYPES)}')
        out = dict(type=DATASET_TYPES[dtype], data_mode='topdown', ann_file=ds.pop('ann_file'),
                   data_prefix=dict(img=ds.pop('img_prefix', '')),
                   pipeline=self._pipeline(ds.pop('pipeline', None), codec, f'{where}.pipeline'))
        if 'test_mode' in ds or where != 'data.train':
            out['test_mode'] = ds.pop('test_mode', True)
        data_cfg = dict(ds.pop('data_cfg', None) or {})
        if not data_cfg.get('use_gt_bbox', True) and where != 'data.train':
            out['bbox_file'] = data_cfg['bbox_file']
            if data_cfg.get('det_bbox_thr', 0.0) > 0:
                out['filter_cfg'] = dict(bbox_score_thr=data_cfg['det_bbox_thr'])
        channels = data_cfg.get('num_output_channels')
        if channels is not None and list(data_cfg.get('inference_channel', range(channels))) != list(range(channels)):
            self.drop(f'{where}.data_cfg.inference_channel', 'keypoint subsets are not converted')
        for key in sorted(set(data_cfg) - set(DATA_CFG_READ)):
            if where == 'data.train':
                self.drop(f'{where}.data_cfg.{key}', {'nms_thr': "unused by mmpose 0.x's evaluation",
                                                      'max_num_joints': 'ViTPose+ multi-dataset padding',
                                                      'dataset_idx': 'ViTPose+ expert index: the backbone uses '
                                                      'its default_dataset (0)'}.get(key, 'not converted'))
        ds.pop('dataset_info', None)  # mmpose 1.x datasets carry their keypoint metainfo
        for key in ds:
            self.drop(f'{where}.{key}', 'no mmpose 1.x equivalent in this converter')
        out['_data_cfg'] = data_cfg
        return out

    def _evaluator(self, val_set: dict) -> dict:
        metric = METRICS[val_set['type']]
        if metric == 'MpiiPCKAccuracy':
            return dict(type=metric)
        data_cfg = self.val_data_cfg
        return dict(type=metric, ann_file=val_set['ann_file'],
                    nms_mode='soft_oks_nms' if data_cfg.get('soft_nms') else 'oks_nms',
                    nms_thr=data_cfg.get('oks_thr', 0.9), keypoint_score_thr=data_cfg.get('vis_thr', 0.2))

    def _pipeline(self, steps: list, codec: dict, where: str) -> list:
        out: List[dict] = []
        for step in steps or ():
            step = dict(step)
            kind = step.pop('type')
            if kind == 'LoadImageFromFile':
                out += [dict(type='LoadImage'), dict(type='GetBBoxCenterScale')]
            elif kind == 'TopDownRandomFlip':
                out.append(dict(type='RandomFlip', direction='horizontal', prob=step.get('flip_prob', 0.5)))
            elif kind == 'TopDownHalfBodyTransform':
                # 0.x: more than num_joints_half_body visible keypoints; 1.x: at least min_total_keypoints
                out.append(dict(type='RandomHalfBody', min_total_keypoints=step.get('num_joints_half_body', 8) + 1,
                                prob=step.get('prob_half_body', 0.3)))
            elif kind == 'TopDownGetRandomScaleRotation':
                factor = step.get('scale_factor', 0.35)
                out.append(dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(1 - factor, 1 + factor),
                                rotate_factor=float(step.get('rot_factor', 40)), rotate_prob=step.get('rot_prob', 0.6)))
            elif kind == 'TopDownAffine':
                out.append(dict(type='TopdownAffine', input_size=codec['input_size'],
                                use_udp=step.get('use_udp', False)))
            elif kind == 'TopDownGenerateTarget':
                out.append(dict(type='GenerateTarget', encoder=codec))
            elif kind == 'Collect':
                out.append(dict(type='PackPoseInputs'))
            elif kind not in ('ToTensor', 'NormalizeTensor'):  # both done by the data preprocessor in 1.x
                self.drop(f'{where}: {kind}', 'a transform this converter does not know')
        return out

    # ---- runtime -----------------------------------------------------------------------------------------
    def _runtime(self) -> Dict[str, Any]:
        checkpoint = dict(type='CheckpointHook', interval=dict(self.take('checkpoint_config', None) or {}).get(
            'interval', self.val_interval), max_keep_ckpts=1)
        if self.save_best:
            checkpoint.update(save_best=f'coco/{self.save_best}', rule='greater')
        log_interval = dict(self.take('log_config', None) or {}).get('interval', 50)
        return dict(
            default_hooks=dict(timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook', interval=log_interval),
                               param_scheduler=dict(type='ParamSchedulerHook'), checkpoint=checkpoint,
                               sampler_seed=dict(type='DistSamplerSeedHook'),
                               visualization=dict(type='PoseVisualizationHook', enable=False)),
            env_cfg=dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
                         dist_cfg=dict(backend='nccl')),
            vis_backends=[dict(type='LocalVisBackend')],
            visualizer=dict(type='PoseLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                            name='visualizer'),
            log_processor=dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6),
            log_level=self.take('log_level', 'INFO'), load_from=self.take('load_from'),
            resume=bool(self.take('resume_from')))
