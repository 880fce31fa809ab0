# One image for both processes: `api` runs server.ts, `worker` runs worker.ts.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript directly; the worker bundles workflow code itself at start.
RUN npm ci --omit=dev
COPY . .
USER node
EXPOSE 3000
CMD ["npx", "tsx", "server.ts"]
