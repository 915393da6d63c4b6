# Lambda packaging targets. Included from the project Makefile with `include build.mk`.
#
# `sam build` uses the makefile builder (template.yaml: Metadata.BuildMethod: makefile, CodeUri: .),
# which runs `make build-LoaderFunction` with ARTIFACTS_DIR set, from the Makefile in CodeUri.
# Everything runs without a container: pip downloads manylinux aarch64 / cp312 wheels for Lambda
# whatever the build machine is (see scripts/package_lambda.py).

# Directory of this file, so the targets work from any working directory (SAM's scratch copy too).
LAMBDA_BUILD_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# Any Python >= 3.11 with pip; it only runs pip and copies files.
LAMBDA_PYTHON ?= python3

.PHONY: build-LoaderFunction package

# Called by `sam build`: the function's code and dependencies into SAM's artifact directory.
build-LoaderFunction:
	$(LAMBDA_PYTHON) $(LAMBDA_BUILD_DIR)/scripts/package_lambda.py \
		--source-root $(LAMBDA_BUILD_DIR) --output "$(ARTIFACTS_DIR)"

# The same artifact without SAM: build/lambda/ and build/lambda.zip (upload with
# `aws lambda update-function-code --zip-file fileb://build/lambda.zip`).
package:
	$(LAMBDA_PYTHON) $(LAMBDA_BUILD_DIR)/scripts/package_lambda.py \
		--source-root $(LAMBDA_BUILD_DIR) --output $(LAMBDA_BUILD_DIR)/build/lambda --clean \
		--zip $(LAMBDA_BUILD_DIR)/build/lambda.zip
