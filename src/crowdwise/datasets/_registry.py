"""The registered data sets: where their raw files are, their checksums, licence,
citation, sizes and converter. Data, not code: one :class:`DatasetInfo` per set.

Every raw file is pinned by repository, commit and path (the immutable
``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``), its size and its
SHA-256. ``role`` says what the installer does with it:

- ``votes``, ``truth``, ``filenames``, ``class_names``: read by the set's converter;
- ``features``: copied as it is into the set's ``features/`` folder;
- ``metadata``: the licence or data README the source ships, copied into ``source/``;
- ``crosscheck``: a file the reference conversion read only to cross-check; recorded
  (URL, size, checksum) but not downloaded.

A file hosted elsewhere than GitHub (Zenodo, a data bucket) gives its whole URL in
``direct_url``; a mirror (``CROWDWISE_MIRROR``) then serves it as ``<host>/<path of the
URL>``. A file whose size and SHA-256 could not be computed when it was registered (this
machine had no access to the source) has ``bytes=0`` and ``sha256=""``: its set is listed
with the status ``unverified`` and ``install`` refuses it with one line, since nothing could
check the bytes received (``published_checksum`` keeps what the source publishes, e.g. an
MD5 URL, for whoever pins it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

GITHUB_RAW = "https://raw.githubusercontent.com"
#: roles the installer downloads (``crosscheck`` files are only recorded)
FETCHED_ROLES = ("votes", "truth", "filenames", "class_names", "features", "metadata")


@dataclass(frozen=True)
class RawFile:
    """One raw file of a set, pinned at a commit of a public repository."""

    repo: str
    commit: str
    path: str
    bytes: int
    sha256: str
    role: str
    direct_url: str = ""
    published_checksum: str = ""

    @property
    def relative_url(self) -> str:
        """``<owner>/<repo>/<commit>/<url-quoted path>``: the part after the base URL (for a
        file with a ``direct_url``: ``<host>/<path of that URL>``, its place in a mirror)."""
        if self.direct_url:
            parts = urlsplit(self.direct_url)
            return f"{parts.netloc}{parts.path}"
        return f"{self.repo}/{self.commit}/{quote(self.path)}"

    @property
    def url(self) -> str:
        """The file's public URL (``https://raw.githubusercontent.com/...``, or its
        ``direct_url``)."""
        return self.direct_url or f"{GITHUB_RAW}/{self.relative_url}"

    @property
    def pinned(self) -> bool:
        """Whether its size and SHA-256 are recorded (the installer can check the bytes)."""
        return self.bytes > 0 and len(self.sha256) == 64

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def fetched(self) -> bool:
        return self.role in FETCHED_ROLES


@dataclass(frozen=True)
class DatasetInfo:
    """A registered data set: sources, licence, citation, sizes and how it is converted."""

    name: str
    title: str
    n_tasks: int
    n_workers: int
    n_classes: int
    n_votes: int
    n_truth: int
    licence: str
    citation: str
    conversion: str
    converter: str
    files: tuple[RawFile, ...]
    features: str = ""
    notes: str = ""
    extra_tables: tuple[str, ...] = field(default=())
    #: False: the entry (URLs, format, converter) was written from the source's documentation
    #: and tested on made files in its format only; its raw bytes were never fetched here
    verified: bool = True

    @property
    def status(self) -> str:
        """``tested`` (installed end to end from the real raw bytes, checksums pinned) or
        ``unverified`` (converter tested on a made file only; not installable until pinned)."""
        return "tested" if self.verified and all(f.pinned for f in self.files if f.fetched) else "unverified"

    @property
    def urls(self) -> list[str]:
        return list(dict.fromkeys(f.url for f in self.files))

    @property
    def licence_short(self) -> str:
        """The licence's name alone (``MIT``, ``Apache-2.0``, ``BSD-style``, ``not stated``)."""
        return self.licence.split(",")[0].split(" (")[0].strip()

    @property
    def download_bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.fetched)


def _files(repo: str, commit: str, *entries: tuple[str, int, str, str]) -> tuple[RawFile, ...]:
    return tuple(RawFile(repo, commit, path, size, sha, role) for path, size, sha, role in entries)


# --------------------------------------------------------------------- repositories
_GAL = ("ipeirotis/Get-Another-Label", "9fe6c56a7a157dba1a12018f696bad56806125b7")
_CUBAM = ("welinder/cubam", "fe5ba700f1adbb489c69af311558d64370d73d36")
_PLC = ("fmenat/PyLearningCrowds", "0edf617d0357a43b48dc53f10f4181ec0163d4db")
_PLC_RAW = ("fmenat/PyLearningCrowds", "272bf1deb6237908262b8103ae0538ae08638f41")
_CEKA = ("JunjieChiang/Label-Aggregation", "d153fa4c651d3f4e495a0d5f8929de7af1128608")
_E2E = ("shahanaibrahimosu/end-to-end-crowdsourcing", "7653680c475ba8faa5d4a7b104b42a2a5204cef9")
_SNOW = ("edwinrobots/bayesian_combination_tutorial2", "f98448e2e9a941463aa92f418eefd1f43bd5a637")
_ACT = ("orchidproject/active-crowd-toolkit", "2c0c194e85ca126545bd830d811ec39151bdd448")
_ZHENG = ("zhydhkcws/crowd_truth_infer", "8d216471071f09b9e474ee19f8d692447f982f88")
_EBCC = ("yuan-li/truth-inference-at-scale", "621789b2d57324d3559dc973b2613d2296d73f55")

_SNOW_META = _files(*_SNOW,
    ("LICENSE", 1070, "3fd85e51080eec897873969b64fd87b6e905f7e2311e46ade9065df6e3653598", "metadata"),
    ("snow2008_mturk_data_with_orig_files_assembled_201904/README.txt", 769,
     "f39cd176231ba0c04fad183af610ceefc86e68713eb9e5cff24b7668bfa5411a", "metadata"))
_ACT_LICENSE = _files(*_ACT,
    ("LICENSE", 11358, "c6596eb7be8581c18be736c846fb9173b69eccf6ef94c5135893ec56bd92ba08", "metadata"))
_EBCC_LICENSE = _files(*_EBCC,
    ("LICENSE", 1064, "f8097c108afe15055c8ba736bb6c6f51e10c62330d5f4fc321de7b1a5865c511", "metadata"))

_NO_LICENCE = "not stated"
_ZHENG_LICENCE = f"{_NO_LICENCE} (no LICENSE file in zhydhkcws/crowd_truth_infer)"
_CEKA_LICENCE = f"{_NO_LICENCE} (no LICENSE file in JunjieChiang/Label-Aggregation; CEKA-format copies)"
_SNOW_LICENCE = ("MIT, the repository's LICENSE (Copyright (c) 2023 Edwin Simpson); no separate "
                 "licence for the data (Snow et al. 2008 release)")
_ACT_LICENCE = "Apache-2.0, the repository's LICENSE (orchidproject/active-crowd-toolkit)"
_EBCC_LICENCE = ("MIT, the repository's LICENSE (Copyright (c) 2019 Yuan Li); the data are "
                 "third-party re-distributions")
_ZHENG_CITATION = ("Zheng, Li, Li, Shan & Cheng (2017). Truth inference in crowdsourcing: is the "
                   "problem solved? PVLDB 10(5)")
_SNOW_CITATION = ("Snow, O'Connor, Jurafsky & Ng (2008). Cheap and fast - but is it good? "
                  "Evaluating non-expert annotations for natural language tasks. EMNLP")

DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="bluebirds", title="Bluebirds: Indigo Bunting (1) or Blue Grosbeak (0)? (CUBAM demo)",
        n_tasks=108, n_workers=39, n_classes=2, n_votes=4212, n_truth=108,
        licence="BSD-style, LICENSE.TXT (Copyright (c) 2011-2012 Peter Welinder, Caltech)",
        citation="Welinder, Branson, Belongie & Perona (2010). The multidimensional wisdom of crowds. NIPS",
        conversion="labels.yaml ({worker: {image: bool}}) and gt.yaml ({image: bool}) parsed; "
                   "true -> 1, false -> 0; task = image id, worker = worker id, as in the YAML",
        converter="cubam_yaml",
        notes="published elsewhere as 'Duck Identification' (Zheng et al. 2017)",
        files=_files(*_CUBAM,
            ("demo/bluebirds/labels.yaml", 58941, "8b1b28e4b869b19bb03beac476c7073149cef784f9524ebe17380a1292a6126c", "votes"),
            ("demo/bluebirds/gt.yaml", 1533, "c9eb769c845ca99495a07b5c28c4290c78436fd8eac65c0747736c4ef8126340", "truth"),
            ("LICENSE.TXT", 1664, "8a09fbe2c5916c1edc00e0dd2f362fca9028c08d11363bbab209ff83f1d112fa", "metadata"))),
    DatasetInfo(
        name="rte", title="RTE: PASCAL RTE-1 textual entailment (binary; 1 = entailment holds)",
        n_tasks=800, n_workers=164, n_classes=2, n_votes=8000, n_truth=800,
        licence=_SNOW_LICENCE, citation=_SNOW_CITATION,
        conversion="rte.standardized.tsv: task = orig_id, worker = !amt_worker_ids, label = response, "
                   "truth = gold (constant per task); assignment ids dropped; strings verbatim",
        converter="snow_standardized",
        files=_files(*_SNOW,
            ("all_collected_data/rte.standardized.tsv", 515468,
             "3187c5de59b9b9c596d490d25b5f5f108090a35cbdd10e81f21e6d1939d6ba79", "votes")) + _SNOW_META),
    DatasetInfo(
        name="temp", title="TEMP: TempEval temporal ordering of event pairs (binary, labels 1/2)",
        n_tasks=462, n_workers=76, n_classes=2, n_votes=4620, n_truth=462,
        licence=_SNOW_LICENCE, citation=_SNOW_CITATION,
        conversion="temp.standardized.tsv: task = orig_id, worker = !amt_worker_ids, label = response, "
                   "truth = gold (constant per task); assignment ids dropped; strings verbatim",
        converter="snow_standardized",
        files=_files(*_SNOW,
            ("all_collected_data/temp.standardized.tsv", 302152,
             "7f74de9f36a0d3dfdc1f51e6433526abfc788c616d0c2d04a96206780ac74860", "votes")) + _SNOW_META),
    DatasetInfo(
        name="zheng_dog", title="Dog: images of 4 dog breeds (Zheng et al.'s s4_Dog data)",
        n_tasks=807, n_workers=109, n_classes=4, n_votes=8070, n_truth=807,
        licence=_ZHENG_LICENCE, citation=_ZHENG_CITATION,
        conversion="answer.csv / truth.csv: question -> task, answer -> label, truth -> label; "
                   "values verbatim, no row dropped",
        converter="question_worker_answer",
        files=_files(*_ZHENG,
            ("datasets/s4_Dog data/answer.csv", 78378, "db11159198f59fa2af87450b008f860ca2e9e04e3f15c697ef254af40fb6763a", "votes"),
            ("datasets/s4_Dog data/truth.csv", 5557, "2a641fa31e80526164d956da4228f80d31b303c2691ab1855c76fef72d04b746", "truth"))),
    DatasetInfo(
        name="zheng_face", title="Face sentiment identification, 4 classes (Zheng et al.'s s4_Face)",
        n_tasks=584, n_workers=27, n_classes=4, n_votes=5242, n_truth=584,
        licence=_ZHENG_LICENCE, citation=_ZHENG_CITATION,
        conversion="answer.csv / truth.csv: question -> task, answer -> label, truth -> label; "
                   "values verbatim, no row dropped",
        converter="question_worker_answer",
        files=_files(*_ZHENG,
            ("datasets/s4_Face Sentiment Identification/answer.csv", 111830,
             "9e98c7c56ea1967ca9d3e2396b9abd469e96ee47a52a0103c917397adbb98f9b", "votes"),
            ("datasets/s4_Face Sentiment Identification/truth.csv", 3996,
             "c324c79fd7196d16cb638d956ec90209e405b0010741ffb5ecb1b6316f48cc4c", "truth"))),
    DatasetInfo(
        name="zheng_product", title="Product: do two product records match? (Zheng et al.'s d_jn-product)",
        n_tasks=8315, n_workers=176, n_classes=2, n_votes=24945, n_truth=8315,
        licence=_ZHENG_LICENCE, citation=_ZHENG_CITATION,
        conversion="answer.csv / truth.csv: question -> task, answer -> label, truth -> label; "
                   "values verbatim, no row dropped",
        converter="question_worker_answer",
        files=_files(*_ZHENG,
            ("datasets/d_jn-product/answer.csv", 691172, "ca69e3f2cba3d6f9c3b3ecc2f8d2a81afcd747d0b91aa5ab18608a5715e26adc", "votes"),
            ("datasets/d_jn-product/truth.csv", 108084, "9a5757c726ef1a32b05f6a675924c483b24d602c61b1a2d087ab3d84f90b3766", "truth"))),
    DatasetInfo(
        name="zheng_sentiment", title="Tweet sentiment, binary (Zheng et al.'s D_Sentiment, EBCC copy)",
        n_tasks=1000, n_workers=85, n_classes=2, n_votes=20000, n_truth=1000,
        licence=_EBCC_LICENCE,
        citation=_ZHENG_CITATION + "; re-distributed by Li, Rubinstein & Cohn (2019). Exploiting "
                 "worker correlation for label aggregation in crowdsourcing. ICML",
        conversion="label.csv / truth.csv: item -> task, truth -> label; verbatim (0-based ids "
                   "re-indexed by the EBCC authors)",
        converter="item_worker_label",
        files=_files(*_EBCC,
            ("data/crowd_truth_inference/d_sentiment/label.csv", 177298,
             "44b1df451bab3752540643eb13d0701f1c14d6bd1068a04703691533c8f61cea", "votes"),
            ("data/crowd_truth_inference/d_sentiment/truth.csv", 5901,
             "ea4d2bfe7a660efaabb6dcb07b8e9dd53d5c9bd5b271895270fa4b9f6946217c", "truth")) + _EBCC_LICENSE),
    DatasetInfo(
        name="zheng_relevance", title="TREC 2010 relevance feedback, 4 grades (Zheng et al.'s S_Rel, EBCC copy)",
        n_tasks=20232, n_workers=766, n_classes=4, n_votes=98453, n_truth=4460,
        licence=_EBCC_LICENCE,
        citation="Buckley, Lease & Smucker (2010). Overview of the TREC 2010 Relevance Feedback "
                 "Track (notebook); " + _ZHENG_CITATION + "; re-distributed by Li, Rubinstein & Cohn (2019), ICML",
        conversion="label.csv / truth.csv: item -> task, truth -> label; verbatim (ids re-indexed by "
                   "the EBCC authors); 1570 repeated (task, worker) pairs kept",
        converter="item_worker_label",
        files=_files(*_EBCC,
            ("data/crowd_truth_inference/s4_Relevance/label.csv", 1069582,
             "0577f8e46cbec9901dd7b33ec3626f95cc70f90c54c86f9df4a02d7a841cd8ca", "votes"),
            ("data/crowd_truth_inference/s4_Relevance/truth.csv", 33286,
             "32d8553b523a811a6fdb90051c7bc87e6065bae4471da6e613f9a5f3fbed2709", "truth")) + _EBCC_LICENSE),
    DatasetInfo(
        name="adult_content2", title="AdultContent2: website adult-content rating G, P, R, X (Get-Another-Label)",
        n_tasks=11040, n_workers=825, n_classes=4, n_votes=92721, n_truth=333,
        licence="Apache-2.0, LICENSE-2.0.html of ipeirotis/Get-Another-Label",
        citation="Ipeirotis, Provost & Wang (2010). Quality management on Amazon Mechanical Turk. HCOMP",
        conversion="labels.txt (worker<TAB>url<TAB>label) and gold.txt (url<TAB>label): task = url; "
                   "truth.csv keeps the 333 gold urls that have votes, gold_all.csv all 1517; "
                   "2773 duplicate rows and 2922 repeated (worker, task) pairs kept",
        converter="adult_content2", extra_tables=("gold_all.csv",),
        files=_files(*_GAL,
            ("data/AdultContent2/labels.txt", 3592352, "9584f9d0eda4ede1bce503539c751179a32362240b92e55400f0e2ded8f7468c", "votes"),
            ("data/AdultContent2/gold.txt", 62239, "7b2417f4f8568426767139400d827e0be303c7f6f82126bf58a8febeb33f3949", "truth"),
            ("LICENSE-2.0.html", 11157, "203a2f1f63acab016f6fd4cd4f64d6f31164f60500617437f0da9a292568c398", "metadata"),
            ("data/README.txt", 1631, "665ee7934d67852ec856118f8846eb079f649a5505b68645935a41e2cf8fb868", "metadata"))),
    DatasetInfo(
        name="web_relevance", title="Web search relevance, 5 grades (Zhou et al. 2012, minimax entropy)",
        n_tasks=2665, n_workers=177, n_classes=5, n_votes=15567, n_truth=2653,
        licence=_ZHENG_LICENCE + "; the .mat comes with Dengyong Zhou's minimax-entropy MATLAB package",
        citation="Zhou, Basu, Mao & Platt (2012). Learning from the wisdom of crowds by minimax entropy. NIPS",
        conversion="web_processed_data.mat, struct Model: one row per nonzero of L (2665 x 177): task = "
                   "row, worker = column (1-based), label = value 1..5; truth = true_labels, the 12 "
                   "tasks with NaN truth omitted",
        converter="minimax_mat",
        files=_files(*_ZHENG,
            ("methods/l_minimax/web_processed_data.mat", 170491,
             "ced56d6819b7102b30ec35bdbc2db68a31f819d6c7d653c07b087f1274ff7d5e", "votes"))),
    DatasetInfo(
        name="sentiment_polarity", title="Sentiment polarity of movie-review sentences (binary)",
        n_tasks=4999, n_workers=203, n_classes=2, n_votes=27746, n_truth=4999,
        licence=_ACT_LICENCE,
        citation="Rodrigues, Pereira & Ribeiro (2013). Learning from multiple annotators: "
                 "distinguishing good from random labelers. Pattern Recognition Letters",
        conversion="SP.csv (WorkerID,TaskID,WorkerLabel,GoldLabel): verbatim; truth = GoldLabel",
        converter="active_crowd_csv",
        files=_files(*_ACT,
            ("Data/SP.csv", 655310, "a83cf48092dc61bbb8986fdb0c1a17f658ba8555bddffc9e9ca26b95d514236f", "votes"))
        + _ACT_LICENSE),
    DatasetInfo(
        name="weather_sentiment_amt", title="Weather sentiment of tweets, 5 classes (WS-AMT)",
        n_tasks=300, n_workers=110, n_classes=5, n_votes=6030, n_truth=300,
        licence=_ACT_LICENCE,
        citation="Venanzi, Guiver, Kazai, Kohli & Shokouhi (2014). Community-based Bayesian "
                 "aggregation models for crowdsourcing. WWW",
        conversion="CF_amt.csv (WorkerID,TaskID,WorkerLabel,GoldLabel,extra): task, worker, label "
                   "verbatim, 5th column dropped; truth = GoldLabel; 1 duplicate row and 5 repeated "
                   "(task, worker) pairs kept",
        converter="active_crowd_csv",
        files=_files(*_ACT,
            ("Data/CF_amt.csv", 182225, "c44d4bf3cbf08f343072d86a10e9085ab91885a2b4bbb1d0d03eb2cd461f6c5b", "votes"))
        + _ACT_LICENSE),
    DatasetInfo(
        name="labelme", title="LabelMe: 1000 images of 8 scene classes (Rodrigues & Pereira 2018)",
        n_tasks=1000, n_workers=59, n_classes=8, n_votes=2547, n_truth=1000,
        licence=f"{_NO_LICENCE} (no LICENSE file in fmenat/PyLearningCrowds)",
        citation="Rodrigues & Pereira (2018). Deep learning from crowds. AAAI",
        conversion="answers.txt (1000 x 59 matrix, -1 = no answer): every entry >= 0 is a vote, task = "
                   "0-based row, worker = 0-based column, label = class 0..7 (0 highway, 1 insidecity, "
                   "2 tallbuilding, 3 street, 4 forest, 5 coast, 6 mountain, 7 opencountry, checked "
                   "against labels_train_names.txt); truth = LabelMe_Z_train.txt; task_names.csv maps "
                   "task -> image file",
        converter="labelme", extra_tables=("task_names.csv",),
        features="features/: LabelMe_VGG_avg_{train,valid,test}.npy (VGG-16, 512 columns), "
                 "LabelMe_Z_{train,valid,test}.txt",
        files=_files(*_PLC,
            ("data/LabelMe/answers.txt", 174453, "354c282e10835a59962494acb1d180fe997b65a0aa1e27f870cdb4ef51ef3e2b", "votes"),
            ("data/LabelMe/LabelMe_Z_train.txt", 2000, "229556bdc5da327dd7d4e4154ba180969091c83f43cf8cbee3727131c5a062f6", "truth"),
            ("data/LabelMe/LabelMe_VGG_avg_train.npy", 2048128, "0ddfbcbd722aab70e81525a459cc37d47c1d344322b401ee35a3e9b158a209e8", "features"),
            ("data/LabelMe/LabelMe_VGG_avg_valid.npy", 1024128, "cb80ce99ef9fc80c666e6b9c43259ee0aac4e0cf82f8ac654b8bb309fb28953d", "features"),
            ("data/LabelMe/LabelMe_VGG_avg_test.npy", 2433152, "af407538f702f98e775f233652152cdcb58583c9d4668492308151c126ce7873", "features"),
            ("data/LabelMe/LabelMe_Z_train.txt", 2000, "229556bdc5da327dd7d4e4154ba180969091c83f43cf8cbee3727131c5a062f6", "features"),
            ("data/LabelMe/LabelMe_Z_valid.txt", 1000, "40aba43f903a539b38243c411e214da1f8c696cc47aa59811cc3388cc6899892", "features"),
            ("data/LabelMe/LabelMe_Z_test.txt", 2376, "6d508b638d41fa84b2628615270456df96a49dce18054d201ac6261b03ea77bc", "features"))
        + _files(*_PLC_RAW,
            ("data/LabelMe/raw/filenames_train.txt", 20745, "ab6b8c79cf243aadad711e13c31fd05c645caeeab691be1f93481eb63105142c", "filenames"),
            ("data/LabelMe/raw/labels_train_names.txt", 9231, "127b33bdb599dd2bdbf7f9a782ae3ade516d390424e0179b18a75c9a10659cf9", "class_names"))),
    DatasetInfo(
        name="music_genre", title="Music genre of 30 s song clips, 10 classes (GTZAN clips on AMT)",
        n_tasks=700, n_workers=44, n_classes=10, n_votes=2945, n_truth=700,
        licence=f"{_NO_LICENCE} (no LICENSE file in shahanaibrahimosu/end-to-end-crowdsourcing)",
        citation="Rodrigues, Pereira & Ribeiro (2014). Gaussian process classification and active "
                 "learning with multiple annotators. ICML",
        conversion="mturk_answers.csv (raw AMT export, old-Mac CR line endings): task = Input.song, "
                   "worker = WorkerID, label = Answer.pred_label; truth = Input.true_label (one per song)",
        converter="amt_music",
        features="features/: music_genre_gold.csv (the 700 songs: id, 124 features, class), "
                 "music_genre_test.csv (300 test songs)",
        files=_files(*_E2E,
            ("data/Music/mturk_answers.csv", 128731, "07c7485ca27f7a0ab69e4dd014d329644a495e4dda498970b65ed1a173f0606a", "votes"),
            ("data/Music/music_genre_gold.csv", 802222, "28cd73e9bf555e5847de0b0fc4c4998264d4a272d657c452edf2c93c206bda64", "features"),
            ("data/Music/music_genre_test.csv", 344469, "952b423483bef4e0aa38b628815232b600a745d028fc8dfe8addd49e616931b8", "features"),
            ("data/Music/music_genre_mturk.csv", 3413459, "20abf70b06d77653742125d8ae57a6b46d3e6d5e0291de4fc9c76d433cd9b834", "crosscheck"))),
    DatasetInfo(
        name="leaves", title="Leaves: leaf images of 6 plant species (CEKA)",
        n_tasks=384, n_workers=83, n_classes=6, n_votes=3840, n_truth=384,
        licence=_CEKA_LICENCE,
        citation="Zhang, Sheng, Nicholson & Wu (2015). CEKA: a tool for mining the wisdom of crowds. JMLR 16",
        conversion="leaves.response.txt (worker<TAB>task<TAB>label), leaves.gold.txt (task<TAB>label): "
                   "verbatim, columns reordered",
        converter="tab_worker_task_label",
        files=_files(*_CEKA,
            ("data/leaves/leaves.response.txt", 31702, "cf25b16f69dc7269989953be4668dbdf018e1d2292792d92199df8b33d895600", "votes"),
            ("data/leaves/leaves.gold.txt", 2244, "6148052f692f4bbe4f8a6667da7a6a849d98daec924b86b708bd622a06bcc474", "truth"))),
    DatasetInfo(
        name="ruters", title="Reuters-21578 news articles, 8 topics (CEKA copy, spelled 'ruters')",
        n_tasks=1786, n_workers=38, n_classes=8, n_votes=5410, n_truth=1786,
        licence=_CEKA_LICENCE,
        citation="Rodrigues, Lourenco, Ribeiro & Pereira (2017). Learning supervised topic models "
                 "for classification and regression from crowds. IEEE TPAMI",
        conversion="ruters.response.txt (worker<TAB>task<TAB>label, CRLF), ruters.gold.txt "
                   "(task<TAB>label): verbatim, columns reordered",
        converter="tab_worker_task_label",
        files=_files(*_CEKA,
            ("data/ruters/ruters.response.txt", 54712, "b1a2cb74331819f2b37b026c12671edd1367081e49514ebbb8d05abfdb1058ed", "votes"),
            ("data/ruters/ruters.gold.txt", 13282, "7fd18a5540ff7bef6a58ebdf9fd1fe16cdda4f223c235f91b4fea9bdff8abc8f", "truth"))),
)


# ------------------------------------------------------- registered, not verified here
# Written from each source's documentation and code (read with the team's search tool);
# this machine reaches no data host, so no raw byte was fetched: sizes and SHA-256 are
# unknown (0 / ""), sizes in the entries are the figures the sources publish, and each
# converter is tested on a small file made in the source's format (tests/datasets).
_CIFAR10H = ("jcpeterson/cifar-10h", "597cbc5f07266c9405b830ee4a53463539124c4f")
_CROWDKIT_S3 = "https://tlk.s3.yandex.net/dataset/crowd-kit"
_CROWDKIT_NOTE = ("URL from crowd-kit's crowdkit/datasets/_loaders.py (Toloka/crowd-kit, commit "
                  "4a8af566825577a4bb540ae957e0dd94b1443663); crowd-kit checks an MD5 published beside "
                  "the archive; sizes not published; not fetched here")
_CROWDKIT_LICENCE = ("not stated (crowd-kit's loader states none; check the archive and crowd-kit's "
                     "documentation before redistributing)")


def _crowdkit(name: str, archive: str, title: str, description: str, sizes: tuple[int, int, int, int, int],
              citation: str) -> DatasetInfo:
    n_tasks, n_workers, n_classes, n_votes, n_truth = sizes
    return DatasetInfo(
        name=name, title=title, n_tasks=n_tasks, n_workers=n_workers, n_classes=n_classes, n_votes=n_votes,
        n_truth=n_truth, licence=_CROWDKIT_LICENCE, citation=citation,
        conversion=f"{archive}.zip: crowd_labels.csv (worker or performer, task, label) -> votes.csv "
                   "(task, worker, label; values verbatim, rows in file order); gt.csv (task, label) -> "
                   "truth.csv",
        converter="crowdkit_zip", verified=False,
        notes=f"crowd-kit's load_dataset({name!r}): {description}. {_CROWDKIT_NOTE}; sizes are the "
              "published ones (0 = not published)",
        files=(RawFile("Toloka/crowd-kit", "s3", f"{archive}.zip", 0, "", "votes",
                       direct_url=f"{_CROWDKIT_S3}/{archive}.zip",
                       published_checksum=f"md5: {_CROWDKIT_S3}/{archive}.md5"),))


UNVERIFIED: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="labelme_images", title="LabelMe images with their crowd votes, as peerannot installs them "
                                     "(Rodrigues & Pereira 2018, deep_LabelMe.tar.gz)",
        n_tasks=10000, n_workers=59, n_classes=8, n_votes=0, n_truth=10000,
        licence="not stated (the archive's page states none; LabelMe images: see labelme.csail.mit.edu)",
        citation="Rodrigues & Pereira (2018). Deep learning from crowds. AAAI; Russell, Torralba, Murphy & "
                 "Freeman (2008). LabelMe: a database and web-based tool for image annotation. IJCV",
        conversion="deep_LabelMe.tar.gz: LabelMe/answers.txt (row = training image, column = worker, -1 = "
                   "no answer, classes 0 highway, 1 insidecity, 2 tallbuilding, 3 street, 4 forest, 5 coast, "
                   "6 mountain, 7 opencountry) -> votes.csv (task = row, worker = column, label = class "
                   "name); LabelMe/filenames_train.txt gives each row's image, found under "
                   "LabelMe/train/<class>/ -> train/<class>/<stem>-<task>.jpg and truth.csv (that class); "
                   "LabelMe/valid and LabelMe/test -> val/ and test/ (the image-folder layout `crowdwise "
                   "train` and peerannot read)",
        converter="labelme_images", verified=False,
        features="train/, val/, test/: the images, <class>/<stem>-<task>.jpg",
        notes="The URL is the one peerannot's datasets/labelme/labelme.py downloads (peerannot/peerannot, "
              "commit 5563cbe474a2a8ec2ff16c9201b55adca3df4cdb); the training rows are Rodrigues' augmented "
              "set (10,000 images, not the 1,000 originals of `labelme`); vote count not published. Read its votes "
              "with the 8 classes declared (`load_votes(..., classes=crowdwise.datasets._convert.LABELME_CLASSES)`) "
              "since val/ and test/ hold every class folder. Not "
              "fetched here. The music_genre spectrogram images come from Kaggle's GTZAN page, which needs "
              "an account: not registered",
        files=(RawFile("fprodrigues", "web", "deep_LabelMe.tar.gz", 0, "", "votes",
                       direct_url="http://fprodrigues.com/deep_LabelMe.tar.gz"),)),
    DatasetInfo(
        name="cifar10h", title="CIFAR-10H: human labels of the 10,000 CIFAR-10 test images, 10 classes",
        n_tasks=10000, n_workers=2571, n_classes=10, n_votes=511400, n_truth=10000,
        licence="CC BY-NC-SA 4.0, the repository's LICENSE.txt (non-commercial use, cite the paper, "
                "share alike)",
        citation="Peterson, Battleday, Griffiths & Russakovsky (2019). Human uncertainty makes "
                 "classification more robust. ICCV",
        conversion="data/cifar10h-raw.zip -> cifar10h-raw.csv (one row per trial, columns read by name): "
                   "attention-check trials dropped (is_attn_check = 1, or cifar10_test_test_idx = -99999); "
                   "task = cifar10_test_test_idx (index in the CIFAR-10 test set, as torchvision orders it), "
                   "worker = annotator_id, label = chosen_label (0-9, CIFAR-10's class order); truth = "
                   "true_label, checked constant per task",
        converter="cifar10h_raw", verified=False,
        features="images: torchvision.datasets.CIFAR10(train=False); task i is test image i",
        notes="sizes as published (2,571 annotators, ~51 labels per image); zip not fetched here",
        files=_files(*_CIFAR10H, ("data/cifar10h-raw.zip", 0, "", "votes"))),
    _crowdkit("relevance-2", "relevance-2", "Yandex Relevance 2 Gradations (2016): query-document pairs, "
              "binary relevance (crowd-kit)", "~0.5 million labels, binary relevant / non-relevant",
              (0, 0, 2, 0, 0), "Toloka / Yandex (2016), Relevance 2 Gradations; distributed with crowd-kit "
              "(Ustalov, Pavlichenko & Tseitlin, 2024, Learning from crowds with Crowd-Kit, JOSS)"),
    _crowdkit("relevance-5", "relevance-5", "Yandex Relevance 5 Gradations (2016): query-document pairs "
              "graded 1-5 (crowd-kit)", "~1 million labels, relevance 1 to 5",
              (0, 0, 5, 0, 0), "Toloka / Yandex (2016), Relevance 5 Gradations; distributed with crowd-kit "
              "(Ustalov, Pavlichenko & Tseitlin, 2024, Learning from crowds with Crowd-Kit, JOSS)"),
    _crowdkit("nist-trec-relevance", "relevance", "NIST TREC 2010 Relevance Feedback judgements "
              "(crowd-kit copy)", "20,232 (topic, document) examples, 766 workers, 98,453 judgements, "
              "3,277 with NIST gold labels",
              (20232, 766, 0, 98453, 3277), "Buckley, Lease & Smucker (2010). Overview of the TREC 2010 "
              "Relevance Feedback Track (notebook); distributed with crowd-kit"),
    DatasetInfo(
        name="plantnet_swe", title="Pl@ntNet-CrowdSWE: species votes on plant observations of "
                                   "South-Western Europe, 2017-2023 (Zenodo record 10782465, v1)",
        n_tasks=6699593, n_workers=823251, n_classes=11425, n_votes=9005108, n_truth=26811,
        licence="not checked (stated on Zenodo record 10782465: read it on the record page before "
                "redistributing)",
        citation="Lefort, Affouard, Charlier, Lombardo, Chouet, Goëau, Salmon, Bonnet & Joly (2024). "
                 "Pl@ntNet-CrowdSWE (data set), Zenodo, doi:10.5281/zenodo.10782465; Lefort et al. (2024). "
                 "Cooperative learning of Pl@ntNet's Artificial Intelligence algorithm: how does it work "
                 "and how can we improve it? arXiv:2406.03356",
        conversion="plantnet_swe.zip (read member by member): answers/answers.json ({task index: {user "
                   "index: class index}}) -> votes.parquet (votes.csv without pyarrow), one row per vote in file order, task = the observation id (obsID, the key "
                   "of converters/tasks.json whose value is the task index), worker = user index, label "
                   "= class index (converters/classes.json names the species); answers/ground_truth.txt "
                   "(line i: class of task i, -1 unknown) -> truth.csv, the expert-labelled observations "
                   "(D_expert); truth_multiple.csv and truth_disagreement.csv: see notes",
        converter="plantnet_swe", verified=False,
        extra_tables=("truth_multiple.csv", "truth_disagreement.csv"),
        notes="D_multiple = expert-labelled observations with at least 2 votes; D_disagreement = those whose "
              "votes are not all for one class, as Lefort's thesis (ch. 4, evaluation metrics) defines "
              "them: 26,811 / 17,125 / 1,263 observations there (its text also says 'more than two' "
              "votes once; the row counts of the three truth files tell which reading the released votes give). "
              "Score validity rules (TwoThird, PlantNet) with `crowdwise evaluate --invalid-as-wrong` as "
              "the thesis does. The zip (several GB) was not fetched here",
        files=(RawFile("zenodo/10782465", "v1", "plantnet_swe.zip", 0, "", "votes",
                       direct_url="https://zenodo.org/records/10782465/files/plantnet_swe.zip",
                       published_checksum="md5 on the Zenodo record page"),)),
)

DATASETS = DATASETS + UNVERIFIED

REGISTRY: dict[str, DatasetInfo] = {d.name: d for d in DATASETS}
