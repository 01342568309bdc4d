# Java lane: xtdf's command line (sdk/java, Maven) on the OpenTDF Java SDK from Maven Central;
# included by sdk/sdks.mk.
#   make sdks-java        build sdk/java/dist/<version>/ (cmdline.jar, its CDS archive, cli.sh)
#   make sdks-java-clean  delete them and the Maven build directories
# JAVA_SDK_VERSIONS is the only place a version is named: each becomes the pom's
# opentdf.sdk.version. Maven Central serves io.opentdf.platform:sdk here at 0.7.3 only
# (0.9.0, upstream's long-term-support pick, and the 0.1x releases are not served), see
# docs/compat.md, "Java lane". Without a JDK or Maven the lane is skipped with one line
# (a failure under CI=true). JAVA_HOME, when set, chooses the JDK.
JAVA_SDK_VERSIONS := 0.7.3

JAVA_STAMPS  := $(foreach v,$(JAVA_SDK_VERSIONS),sdk/java/dist/$(v)/.installed)
JAVA_SOURCES := sdk/java/java.mk sdk/java/pom.xml sdk/java/install.sh sdk/java/cli.sh.in \
	$(shell find sdk/java/src -type f 2>/dev/null)
# the tools the lane needs; the first missing one is named in the skip line
JAVA_TOOLS ?= java javac mvn
JAVA_MISSING := $(firstword $(foreach t,$(JAVA_TOOLS),$(if $(shell \
	{ [ -n "$$JAVA_HOME" ] && [ -x "$$JAVA_HOME/bin/$(t)" ]; } || command -v $(t) >/dev/null 2>&1 && echo ok),,$(t))))

.PHONY: sdks-java sdks-java-clean

ifeq ($(JAVA_MISSING),)
sdks-java: $(JAVA_STAMPS)
else
sdks-java:
	@if [ "$$CI" = true ]; then \
	  echo "sdks-java: cannot build the Java lane: no $(JAVA_MISSING) on PATH (CI=true, so this fails)" >&2; \
	  exit 1; \
	fi; \
	echo "sdks-java: skipped the Java lane: no $(JAVA_MISSING) on PATH (needs a JDK >= 17 and Maven)"
endif

sdk/java/dist/%/.installed: $(JAVA_SOURCES)
	sdk/java/install.sh $*

sdks-java-clean:
	rm -rf sdk/java/dist sdk/java/target
