# The course's commands. Every target sets itself up on a fresh machine with only python3:
# it creates .venv and installs this package with the extras it needs.
#
#   make book    execute every chapter and build the HTML book in _build/html
#   make test    make lint, pytest over tests/ and nbval over every chapter (test sizes), timed
#   make coverage  line coverage of helpers/ by pytest
#   make bench   measure the backends and write bench/results.md and bench/results.json
#   make pages   open every page of the built book in headless Chromium at 1280 px: no sideways
#                scrolling, no traceback, every image loaded; screenshots in _build/screenshots
#   make lint    ruff check and format check; import-linter: the package's layers
#   make gpu-check  on a CUDA GPU, the gpu-marked tests and the GPU measurements (make bench's,
#                the chapters') in at most 4 minutes, into bench/gpu.md; without a GPU it says
#                so and exits 0; DRY_RUN=1 runs the same steps on the CPU at tiny sizes

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The GPU extra (CuPy) only where nvidia-smi sees a GPU.
comma   := ,
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
EXTRAS  := book,test$(if $(HAS_GPU),$(comma)gpu)
# Pinned: on a machine without a GPU pip finds this release as a CPU build; with a GPU, PyPI's
# default (CUDA) build of the same release.
TORCH   := torch==2.13.0

.PHONY: book test coverage pages bench lint clean pretrained experiments gpu-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"

# make test: the set-up, make lint, pytest over tests/ and nbval over every chapter, each timed;
# it ends with each step's wall time and the total. Every step runs even when one fails, so one
# run reports every failure; the exit status is non-zero if any failed. Budget: 15 minutes on a
# fresh clone of a 2-core machine. The chapters run at the test profile's sizes
# (COURSE_SIZES=test, helpers.config); make book runs them at the book's. Both suites spread
# over the cores with pytest-xdist (a notebook's cells stay together on one worker) and list
# their slowest tests: where the time goes.
WORKERS ?= 2
PYTEST  := $(BIN)/python -m pytest -p no:cacheprovider -n $(WORKERS)
test:
	@start=$$(date +%s); status=0; times=""; \
	step() { name=$$1; shift; t0=$$(date +%s); "$$@" || status=1; \
		times="$$times$$(printf '  %-8s %5d s' "$$name" $$(( $$(date +%s) - t0 )))\n"; }; \
	step set-up $(MAKE) --no-print-directory $(STAMP); \
	step lint $(MAKE) --no-print-directory lint; \
	step pytest $(PYTEST) tests -m "not pages" --dist loadgroup --durations=15; \
	step nbval env COURSE_SIZES=test $(PYTEST) --nbval-lax chapters --dist loadfile \
		--durations=15; \
	printf "\nmake test, wall time per step:\n$$times"; \
	printf '  %-8s %5d s\n' total $$(( $$(date +%s) - start )); \
	exit $$status

# Line coverage of helpers/ by pytest (not the chapters): a change must not lower it.
coverage: $(STAMP)
	$(PYTEST) tests -m "not pages" --dist loadgroup -q --cov=helpers --cov-report=term:skip-covered

pages: $(STAMP)
	$(BIN)/python -m pytest -q -m pages tests/test_pages.py

lint: $(STAMP)
	$(BIN)/ruff check helpers tests chapters
	$(BIN)/ruff format --check helpers tests chapters
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS),engines,peers]"
	$(BIN)/python -m helpers.benchmark --out bench

# What make book and make test leave behind; .venv and the shipped data stay.
clean:
	rm -rf _build .pytest_cache chapters/work chapters/checkpoints chapters/datasets
	rm -rf $${XDG_CACHE_HOME:-$$HOME/.cache}/gpu-exotics-course  # compiled kernels (kernel_cache)

# The shipped pricer and its held-out test set (data/README.md): about 50 minutes on 2 CPU cores.
# One thread for the training: the same command then makes the same bytes.
pretrained: $(STAMP)
	$(BIN)/python -m helpers.pretrain testset --out data
	$(BIN)/python -m helpers.datagen --out datasets/pretrain-control --shards 64 \
		--options-per-shard 16384 --paths 128 --seed 2025 --workers 2 --sobol --control
	$(BIN)/python -m helpers.datagen --out datasets/pretrain-corner --shards 9 \
		--options-per-shard 16384 --paths 128 --seed 2026 --workers 2 --control \
		--region barrier_corner
	OMP_NUM_THREADS=1 $(BIN)/python -m helpers.pretrain model --data datasets/pretrain-control \
		--out data --epochs 90 --kind residual --hidden 256 --layers 4 --activation elu \
		--batch 1024 --lr 3e-4 1e-6 \
		--extra-inputs barrier_distance strike_distance knock_out_chance \
		--oversample datasets/pretrain-corner

# Chapters 9 and 10's ablation, learning curves and six full-size pricers beside the shipped one
# (data/README.md): about seven hours on 2 CPU cores.
experiments: $(STAMP)
	$(BIN)/python -m helpers.training.ablation ablation --out data/ablation.json
	$(BIN)/python -m helpers.training.ablation curves --out data/curves.json
	$(BIN)/python -m helpers.training.ablation residual-curves --out data/residual_curves.json
	$(BIN)/python -m helpers.datagen --out datasets/pretrain-greeks --shards 64 \
		--options-per-shard 16384 --paths 128 --seed 2025 --workers 2 --greeks --sobol
	for weight in 0.0 1.0; do \
		out=data/full_size/$$( [ $$weight = 0.0 ] && echo prices_only || echo differential ); \
		mkdir -p $$out && OMP_NUM_THREADS=1 $(BIN)/python -m helpers.pretrain model \
			--data datasets/pretrain-greeks --out $$out --test data --epochs 90 \
			--kind homogeneous --hidden 256 --layers 4 --activation elu --weight $$weight \
			--batch 1024 --lr 1e-3 1e-6 || exit 1; \
	done
	mkdir -p data/full_size/closed_form && OMP_NUM_THREADS=1 $(BIN)/python -m helpers.pretrain \
		model --data datasets/pretrain-greeks --out data/full_size/closed_form --test data \
		--epochs 90 --kind residual --hidden 256 --layers 4 --activation elu --weight 0.0 \
		--batch 1024 --lr 3e-4 1e-6
	$(BIN)/python -m helpers.datagen --out datasets/pretrain-control --shards 64 \
		--options-per-shard 16384 --paths 128 --seed 2025 --workers 2 --sobol --control
	mkdir -p data/full_size/control_labels && OMP_NUM_THREADS=1 $(BIN)/python -m \
		helpers.pretrain model --data datasets/pretrain-control \
		--out data/full_size/control_labels --test data --epochs 90 --kind residual \
		--hidden 256 --layers 4 --activation elu --weight 0.0 --batch 1024 --lr 3e-4 1e-6
	mkdir -p data/full_size/extra_inputs && OMP_NUM_THREADS=1 $(BIN)/python -m \
		helpers.pretrain model --data datasets/pretrain-control \
		--out data/full_size/extra_inputs --test data --epochs 90 --kind residual \
		--hidden 256 --layers 4 --activation elu --weight 0.0 --batch 1024 --lr 3e-4 1e-6 \
		--extra-inputs barrier_distance strike_distance knock_out_chance
	$(BIN)/python -m helpers.datagen --out datasets/pretrain --shards 100 \
		--options-per-shard 4096 --paths 256 --seed 2024 --workers 2
	mkdir -p data/full_size/article_recipe && $(BIN)/python -m helpers.pretrain model \
		--data datasets/pretrain --out data/full_size/article_recipe --test data --epochs 150 \
		--hidden 256 --batch 2048 --lr 1e-3 1e-6

# make gpu-check (helpers/gpu_check) runs on the GPU machine as it is: no network, no .venv, its
# own python3 with torch, CuPy and pytest but no Ignite, Dask, QuantLib or FastAPI. So it does
# not depend on $(STAMP): it runs GPU_PYTHON (.venv's where there is one, else python3) with
# PYTHONPATH=., after installing the pure-Python wheels in GPU_WHEELS, if any, into a temporary
# folder (no index, no dependencies). Fill that folder where there is a network:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       -d .gpu-wheels pytorch-ignite==0.5.5
# Steps that need a library still missing are skipped with a line saying so. DRY_RUN=1 hides
# any GPU and writes _build/gpu-dry-run.md, never the GPU's figures in bench/gpu.md.
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
GPU_WHEELS ?= .gpu-wheels
GPU_SITE   := $(if $(wildcard $(GPU_WHEELS)/*.whl),$(or $(TMPDIR),/tmp)/gpu-check-site)

gpu-check:
ifneq ($(GPU_SITE),)
	rm -rf $(GPU_SITE)
	$(GPU_PYTHON) -m pip install --quiet --no-index --no-deps --no-compile \
		--target $(GPU_SITE) $(GPU_WHEELS)/*.whl
endif
	$(if $(DRY_RUN),CUDA_VISIBLE_DEVICES=) PYTHONPATH=.$(if $(GPU_SITE),:$(GPU_SITE)) \
		$(GPU_PYTHON) -m helpers.gpu_check \
		$(if $(DRY_RUN),--dry-run --out _build/gpu-dry-run.md,--out bench/gpu.md)
