# One image for both processes, running compiled JavaScript (no tsx): the default command is the
# API (dist/server.js); docker-compose.yml's `worker` runs dist/worker.js. Node 24, an LTS line.
ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only (the native Temporal core bridge and SWC come prebuilt for glibc).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Every dependency, to compile: `npm run build` writes dist/ (tsc, the compose thread, migrations).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# package.json says "type": "module", which the compiled files need.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The worker bundles the compiled workflow code (dist/workflows/) with the SDK's bundler at start.
CMD ["node", "--enable-source-maps", "dist/server.js"]
