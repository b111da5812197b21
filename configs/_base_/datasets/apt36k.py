# APT-36K (animal pose tracking) metainfo: distributed in AP-10K's format with AP-10K's 17 keypoints, skeleton and
# sigmas, so everything comes from mmpose's AP-10K metainfo; only the name differs, which tells APT-36K samples and
# metrics apart from AP-10K's in a multi-dataset run (vitpose_mm/datasets/facts.py).
_base_ = ['mmpose::_base_/datasets/ap10k.py']
dataset_info = dict(
    dataset_name='apt36k',
    paper_info=dict(
        author='Yang, Yuxiang and Yang, Junjie and Xu, Yufei and Zhang, Jing and Lan, Long and Tao, Dacheng',
        title='APT-36K: A Large-scale Benchmark for Animal Pose Estimation and Tracking',
        container='Advances in Neural Information Processing Systems',
        year='2022',
        homepage='https://github.com/pandorgan/APT-36K',
    ))
